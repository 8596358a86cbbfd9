# A stored example for the funnel-plot overdispersion formulas of
# Spiegelhalter DJ (2005), "Handling over-dispersion of performance indicators",
# Qual Saf Health Care 14:347-351 (section "additive random-effects models"),
# computed here directly in base R, independently of evalkit.
#   theta0 = sum(x) / sum(n);  s_i = sqrt(theta0 (1 - theta0) / n_i);  z_i = (y_i - theta0) / s_i
#   z winsorised 10% each side: the k = max(1, floor(0.1 I)) lowest and highest z set to
#   the next one (evalkit's reading of "10% each side"; docs/monitor.md)
#   phi = mean(z_w^2);  chi2 = I * phi (compared with chi-square on I - 1 df)
#   w_i = 1 / s_i^2;  tau2 = max(0, (I phi - (I - 1)) / (sum(w) - sum(w^2) / sum(w)))
#   limits theta0 +- z_p sqrt(s_i^2 + tau2), z_p = qnorm(0.975), qnorm(0.999), cut at 0 and 1
# Units: 12 hospitals' made-up counts with clear overdispersion.
# Run: Rscript tests/reference/spc/make_funnel_example.R > tests/reference/spc/funnel_example.json
x <- c(12, 30, 8, 45, 20, 5, 60, 18, 25, 9, 40, 14)
n <- c(100, 150, 90, 200, 120, 80, 220, 60, 210, 40, 160, 130)
I <- length(x)
theta <- sum(x) / sum(n)
y <- x / n
s <- sqrt(theta * (1 - theta) / n)
z <- (y - theta) / s
k <- max(1, floor(0.1 * I))
zs <- sort(z)
zw <- pmin(pmax(z, zs[k + 1]), zs[I - k])
phi <- mean(zw^2)
w <- 1 / s^2
tau2 <- max(0, (I * phi - (I - 1)) / (sum(w) - sum(w^2) / sum(w)))
se <- sqrt(s^2 + tau2)
num <- function(v) paste(sprintf("%.17g", v), collapse = ", ")
cat("{\n")
cat(sprintf(' "x": [%s],\n "n": [%s],\n', num(x), num(n)))
cat(sprintf(' "theta0": %.17g,\n "phi": %.17g,\n "chi2": %.17g,\n "p_value": %.17g,\n "tau2": %.17g,\n',
            theta, phi, I * phi, pchisq(I * phi, I - 1, lower.tail = FALSE), tau2))
cat(sprintf(' "z_adjusted": [%s],\n', num((y - theta) / se)))
lim <- function(v) pmin(pmax(v, 0), 1)  # proportions: limits cut at 0 and 1
cat(sprintf(' "upper_95": [%s],\n "lower_95": [%s],\n', num(lim(theta + qnorm(0.975) * se)), num(lim(theta - qnorm(0.975) * se))))
cat(sprintf(' "upper_998": [%s],\n "lower_998": [%s]\n', num(lim(theta + qnorm(0.999) * se)), num(lim(theta - qnorm(0.999) * se))))
cat("}\n")
