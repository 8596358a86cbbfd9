# Reference values for evalkit.survival.rmst (issue #15).
# Rscript make_reference.R   (in tests/reference/rmst/)
# RMST = restricted mean time in the initial state ("(s0)"), RMTL_k = restricted
# mean time in absorbing state k, from survfit's multi-state Aalen-Johansen
# curves (with delayed entry), at horizons 12 and 36. survfit gives no SE for
# multi-state rmean; the Kaplan-Meier se(rmean) of "any exit" is stored.
library(survival)
d <- read.csv("rmst_data.csv")
d$state <- factor(d$cause, levels = c("censored", "independence", "other", "permanency"))
out <- NULL
for (h in c(12, 36)) {
  for (late in c(FALSE, TRUE)) {
    if (late) {
      fit <- survfit(Surv(entry, time, state) ~ 1, data = d, id = id)
    } else {
      fit <- survfit(Surv(time, state) ~ 1, data = d, id = id)
    }
    tab <- summary(fit, rmean = h)$table
    out <- rbind(out, data.frame(late_entry = late, horizon = h, state = rownames(tab),
                                 rmean = tab[, "rmean"], se_rmean = NA))
  }
}
# single-cause RMST (any exit) for comparison with lifelines
d$any <- as.integer(d$cause != "censored")
for (h in c(12, 36)) {
  km <- survfit(Surv(time, any) ~ 1, data = d)
  tab <- summary(km, rmean = h)$table
  out <- rbind(out, data.frame(late_entry = FALSE, horizon = h, state = "km_any",
                               rmean = tab[["rmean"]], se_rmean = tab[["se(rmean)"]]))
}
write.csv(out, "rmst_reference.csv", row.names = FALSE)
writeLines(capture.output(sessionInfo()), "sessionInfo.txt")

# Cumulative incidence by period (id %% 2: 0 = "pre", 1 = "post") with delayed
# entry, for evalkit.survival.incidence (tests/test_incidence.py): pstate and
# std.err (survfit's infinitesimal-jackknife SE) at days 6, 12, 24.
d$period <- ifelse(d$id %% 2 == 0, "pre", "post")
fit <- survfit(Surv(entry, time, state) ~ period, data = d, id = id)
s <- summary(fit, times = c(6, 12, 24), extend = TRUE)
states <- s$states
cif <- NULL
for (j in seq_along(states)) {
  cif <- rbind(cif, data.frame(period = sub("period=", "", as.character(s$strata)), time = s$time,
                               state = states[j], pstate = s$pstate[, j], std_err = s$std.err[, j]))
}
write.csv(cif, "cif_by_period_reference.csv", row.names = FALSE)
