## Reference values for finegray(..., censoring_time=) (tests/test_finegray_censoring.py):
## Fine & Gray's (1999, section 3) "censoring complete" form, computed without
## survival::finegray (which has no potential censoring times) and without evalkit:
## each competing exit's row is extended by hand from its exit time T to its known
## potential censoring time C, split at the random censorings, with weight
## G(t-)/G(T-) (G = product-limit estimate of the *random* censorings only, exits
## at a time leaving before the censorings at that time), and fitted by
## coxph(weights =, cluster = id).
## Run from this folder:  Rscript make_reference.R
## Data: ../finegray/mgus2.csv (R package survival, data set mgus2, LGPL).
suppressPackageStartupMessages(library(survival))
options(digits = 15)
d <- read.csv("../finegray/mgus2.csv", stringsAsFactors = FALSE)
## potential censoring times: a censored subject whose follow-up ended at C is
## administratively censored; exits get a C after their exit time
d$ctime <- ifelse(d$event == "censor", d$etime, d$etime + 12 * (1 + d$id %% 20))
## "mixed": every third censored subject is a random censoring (C beyond its end)
d$ctime_mixed <- ifelse(d$event == "censor" & d$id %% 3 == 0, d$etime + 100, d$ctime)
d$sw <- 12 * (1 + d$id %% 10)   # external 0/1 covariate z switches on after sw
write.csv(d[, c("id", "age", "male", "etime", "event", "ctime", "ctime_mixed", "sw")],
          "mgus2_ctime.csv", row.names = FALSE)

## G(t-) of the random censorings in one group of subjects, as a function
gfun <- function(g) {
  rc <- g$event == "censor" & g$etime < g$ctime
  cc <- sort(unique(g$etime[rc]))
  if (length(cc) == 0) return(list(cc = cc, gminus = function(t) rep(1, length(t))))
  n <- sapply(cc, function(c) sum(g$etime >= c) - sum(g$etime == c & g$event != "censor"))
  dd <- sapply(cc, function(c) sum(g$etime[rc] == c))
  gafter <- cumprod(1 - dd / n)
  list(cc = cc, gminus = function(t) {k <- findInterval(t, cc, left.open = TRUE)
                                        ifelse(k == 0, 1, gafter[pmax(k, 1)])})
}

## counting-process rows: own follow-up (split at sw if split) + weighted extensions
expand <- function(g, ctime_col, split) {
  g$ctime <- g[[ctime_col]]
  G <- gfun(g)
  own <- do.call(rbind, lapply(seq_len(nrow(g)), function(i) {
    r <- g[i, ]; br <- if (split && r$sw < r$etime) c(0, r$sw, r$etime) else c(0, r$etime)
    k <- length(br) - 1
    data.frame(id = r$id, age = r$age, male = r$male, tstart = br[1:k], tstop = br[-1],
               status = c(rep(0, k - 1), as.integer(r$event == "pcm")),
               z = if (split) as.integer(br[1:k] >= r$sw) else 0, w = 1)
  }))
  comp <- g[g$event == "death", ]
  ext <- do.call(rbind, lapply(seq_len(nrow(comp)), function(i) {
    r <- comp[i, ]
    if (r$ctime <= r$etime) return(NULL)
    cuts <- G$cc[G$cc > r$etime & G$cc < r$ctime]
    if (split && r$sw > r$etime && r$sw < r$ctime) cuts <- sort(unique(c(cuts, r$sw)))
    br <- c(r$etime, cuts, r$ctime)
    k <- length(br) - 1
    lo <- br[1:k]
    ## weight on (lo, hi]: G(t-) for t just after lo, over G(T-)
    wt <- G$gminus(lo + 1e-9) / G$gminus(r$etime)
    data.frame(id = r$id, age = r$age, male = r$male, tstart = lo, tstop = br[-1],
               status = 0, z = if (split) as.integer(lo >= r$sw) else 0, w = wt)
  }))
  ext <- ext[is.finite(ext$w) & ext$w > 0, ]  # G = 0 after the last random censoring
  rbind(own, ext)
}

out <- list()
add <- function(case, fit, ties) {
  out[[length(out) + 1]] <<- data.frame(case = case, ties = ties, term = names(coef(fit)),
    coef = unname(coef(fit)), se_robust = unname(sqrt(diag(fit$var))),
    se_model = unname(sqrt(diag(fit$naive.var))), stringsAsFactors = FALSE)
}
## 1. all censoring administrative (G = 1): Cox on the censoring-complete data
e1 <- expand(d, "ctime", FALSE)
for (ties in c("efron", "breslow"))
  add("admin", coxph(Surv(tstart, tstop, status) ~ age + male, data = e1, cluster = id,
                     ties = ties), ties)
## 2. some censorings random: weighted extensions
e2 <- expand(d, "ctime_mixed", FALSE)
for (ties in c("efron", "breslow"))
  add("mixed", coxph(Surv(tstart, tstop, status) ~ age + male, weights = w, data = e2,
                     cluster = id, ties = ties), ties)
## 3. mixed + external z (known path after the competing exit) + strata(male):
##    G and baseline per sex
e3 <- do.call(rbind, lapply(split(d, d$male), expand, ctime_col = "ctime_mixed", split = TRUE))
add("mixed_external_strata", coxph(Surv(tstart, tstop, status) ~ age + z + strata(male),
                                   weights = w, data = e3, cluster = id), "efron")
res <- do.call(rbind, out)
write.csv(res, "censoring_complete_reference.csv", row.names = FALSE)
print(res)
writeLines(capture.output(sessionInfo()), "sessionInfo.txt")
