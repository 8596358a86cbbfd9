# Reference values for evalkit.contacts.its on the Sicily data (tests/test_its_public.py).
# Run from the repository root:  Rscript tests/reference/its/make_reference.R
# Writes tests/reference/its/sicily_r.csv and sessionInfo.txt.
suppressPackageStartupMessages({library(MASS); library(sandwich)})
d <- read.csv("evalkit/datasets/data/sicily.csv")
d$trend <- d$time - 1                       # months since the first month
d$level_change <- d$smokban
d$slope_change <- ifelse(d$smokban == 1, d$time - 37, 0)   # 2005-01 is month 37
for (j in 1:2) {                            # tsModel::harmonic(month, 2, 12)
  d[[paste0("sin", j)]] <- sin(2 * pi * j * d$month / 12)
  d[[paste0("cos", j)]] <- cos(2 * pi * j * d$month / 12)
}
d$fmonth <- factor(d$month)
out <- list()
add <- function(model, fit, se) {
  b <- coef(fit)
  out[[length(out) + 1]] <<- data.frame(model = model, term = names(b), estimate = unname(b),
                                        std_error = unname(se[names(b)]))
}
f1 <- glm(aces ~ offset(log(stdpop)) + trend + level_change + sin1 + cos1 + sin2 + cos2,
          family = quasipoisson, data = d)
add("quasipoisson_harmonic2_step", f1, sqrt(diag(vcov(f1))))
f2 <- glm(aces ~ offset(log(stdpop)) + trend + level_change + slope_change + fmonth,
          family = poisson, data = d)
add("poisson_month_slope", f2, sqrt(diag(vcov(f2))))
# Newey-West HAC, 3 lags, no prewhitening, no small-sample adjustment (statsmodels' HAC)
add("poisson_month_slope_hac3", f2,
    sqrt(diag(NeweyWest(f2, lag = 3, prewhite = FALSE, adjust = FALSE))))
f3 <- glm.nb(aces ~ offset(log(stdpop)) + trend + level_change + slope_change + sin1 + cos1,
             data = d)
add("negbin_harmonic1_slope", f3, sqrt(diag(vcov(f3))))
res <- do.call(rbind, out)
res$term <- sub("^\\(Intercept\\)$", "intercept", res$term)
res$term <- sub("^fmonth", "month_", res$term)
write.csv(res, "tests/reference/its/sicily_r.csv", row.names = FALSE)
writeLines(c(sprintf("theta(negbin) = %.10f", f3$theta), capture.output(sessionInfo())),
           "tests/reference/its/sessionInfo.txt")
