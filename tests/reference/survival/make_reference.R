# Reference values for tests/test_survival_public.py (issue #13).
# Run from the repository root:  Rscript tests/reference/survival/make_reference.R
# Writes tests/reference/survival/{cox_r.csv, aj_mgus2_r.csv, sessionInfo.txt}.
suppressPackageStartupMessages(library(survival))
out <- "tests/reference/survival"
dd <- "evalkit/datasets/data"

tidy <- function(fit, dataset, model) {
  s <- summary(fit)$coefficients
  se_model <- if ("se(coef)" %in% colnames(s)) s[, "se(coef)"] else NA
  se <- if ("robust se" %in% colnames(s)) s[, "robust se"] else s[, "se(coef)"]
  data.frame(dataset = dataset, model = model, term = rownames(s),
             coef = s[, "coef"], se = se, se_model = se_model,
             p = s[, ncol(s)], loglik = fit$loglik[2], row.names = NULL)
}

heart <- read.csv(file.path(dd, "heart.csv"))
f <- Surv(start, stop, event) ~ age + year + surgery + transplant
rossi <- read.csv(file.path(dd, "rossi.csv"))
g <- Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio
cx <- rbind(
  tidy(coxph(f, data = heart, ties = "efron", cluster = id), "heart", "efron_cluster"),
  tidy(coxph(f, data = heart, ties = "breslow", cluster = id), "heart", "breslow_cluster"),
  tidy(coxph(f, data = heart, ties = "efron"), "heart", "efron"),
  tidy(coxph(f, data = heart, ties = "breslow"), "heart", "breslow"),
  tidy(coxph(g, data = rossi, ties = "efron"), "rossi", "efron"),
  tidy(coxph(g, data = rossi, ties = "breslow"), "rossi", "breslow")
)
write.csv(cx, file.path(out, "cox_r.csv"), row.names = FALSE)

# mgus2 competing risks (survival vignette "compete"): progression (pcm) vs death
mg <- read.csv(file.path(dd, "mgus2.csv"))
mg$event <- factor(mg$event, c("censor", "pcm", "death"))
sf <- survfit(Surv(etime, event) ~ 1, data = mg)
k <- match(c("pcm", "death"), sf$states)
aj <- do.call(rbind, lapply(seq_along(k), function(j) data.frame(
  cause = c("pcm", "death")[j], time = sf$time, n_risk = sf$n.risk[, 1],
  estimate = sf$pstate[, k[j]], std_err = sf$std.err[, k[j]])))
write.csv(aj, file.path(out, "aj_mgus2_r.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), file.path(out, "sessionInfo.txt"))
