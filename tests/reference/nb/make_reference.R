# Reference values for evalkit.contacts.negbin on MASS::quine (tests/test_count_models_public.py).
# Run from the repository root:  Rscript tests/reference/nb/make_reference.R
suppressPackageStartupMessages(library(MASS))
d <- read.csv("evalkit/datasets/data/quine.csv", stringsAsFactors = TRUE)
f <- glm.nb(Days ~ Eth + Sex + Age + Lrn, data = d)
b <- coef(f)
res <- data.frame(term = names(b), estimate = unname(b), std_error = unname(sqrt(diag(vcov(f)))))
res <- rbind(res, data.frame(term = "theta", estimate = f$theta, std_error = f$SE.theta))
write.csv(res, "tests/reference/nb/quine_r.csv", row.names = FALSE)
writeLines(capture.output(sessionInfo()), "tests/reference/nb/sessionInfo.txt")
