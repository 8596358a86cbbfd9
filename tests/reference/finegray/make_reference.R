## Reference values for evalkit.survival.finegray (tests/test_finegray.py).
## Run from this folder:  Rscript make_reference.R
## Data: /work/shared/reference-data/mgus2.csv (R package survival, data set mgus2),
## copied here as mgus2.csv by the test suite's author (LGPL, kept in tests/).
suppressPackageStartupMessages({library(survival); library(cmprsk); library(timereg)})
options(digits = 15)
d <- read.csv("mgus2.csv", stringsAsFactors = FALSE)
d$event <- factor(d$event, levels = c("censor", "pcm", "death"))
d$code <- as.integer(d$event) - 1L          # 0 censor, 1 pcm, 2 death
out <- list()
add <- function(case, fit, ties) {
  s <- summary(fit)$coefficients
  out[[length(out) + 1]] <<- data.frame(case = case, ties = ties, term = rownames(s),
    coef = unname(coef(fit)), se_robust = unname(sqrt(diag(fit$var))),
    se_model = unname(sqrt(diag(fit$naive.var))), stringsAsFactors = FALSE)
}
## 1. one row per subject, time from diagnosis (months), covariates age and male
fg <- finegray(Surv(etime, event) ~ ., data = d[, c("id", "age", "male", "etime", "event")],
               etype = "pcm")
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male, weights = fgwt, data = fg,
               cluster = id, ties = ties)
  add("mgus2", fit, ties)
  if (ties == "efron") fit_base <- fit
}
## predicted cumulative incidence (survfit on the Fine-Gray coxph fit)
nd <- data.frame(age = c(60, 80), male = c(1, 0))
sf <- survfit(fit_base, newdata = nd)
tt <- c(12, 60, 120, 240, 400)
ss <- summary(sf, times = tt, extend = TRUE)
pred <- data.frame(time = rep(tt, 2), profile = rep(0:1, each = length(tt)),
                   age = rep(nd$age, each = length(tt)), male = rep(nd$male, each = length(tt)),
                   cif = 1 - c(ss$surv[, 1], ss$surv[, 2]))
write.csv(pred, "predict_mgus2.csv", row.names = FALSE)
## cmprsk::crr (Breslow-type ties; its own censoring KM and variance)
cr <- crr(d$etime, d$code, cov1 = cbind(age = d$age, male = d$male), failcode = 1, cencode = 0)
out[[length(out) + 1]] <- data.frame(case = "mgus2_crr", ties = "breslow", term = c("age", "male"),
  coef = unname(cr$coef), se_robust = unname(sqrt(diag(cr$var))), se_model = NA)

## 1a. crr on tie-free times (etime + id/10^4): both tie conventions then agree
tf <- d$etime + d$id / 1e4
cr2 <- crr(tf, d$code, cov1 = cbind(age = d$age, male = d$male), failcode = 1, cencode = 0)
out[[length(out) + 1]] <- data.frame(case = "mgus2_crr_untied", ties = "breslow",
  term = c("age", "male"), coef = unname(cr2$coef), se_robust = unname(sqrt(diag(cr2$var))),
  se_model = NA)

## 1b. stratified: censoring distribution and baseline by sex, covariate age
d$sex <- d$male   # finegray() drops its strata columns from the output
fgs <- finegray(Surv(etime, event) ~ age + strata(male) + id + sex,
                data = d[, c("id", "age", "male", "sex", "etime", "event")], etype = "pcm")
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ age + strata(sex), weights = fgwt,
               data = fgs, cluster = id, ties = ties)
  add("mgus2_strata", fit, ties)
}

## 2. time-varying external covariate: z switches from 0 to 1 at a subject-specific
##    time sw = 12 * (1 + id %% 10) months (a staggered "policy" start)
d$sw <- 12 * (1 + d$id %% 10)
a <- d[d$etime <= d$sw, ]; a$tstart <- 0; a$tstop <- a$etime; a$z <- 0
b1 <- d[d$etime > d$sw, ]; b1$tstart <- 0; b1$tstop <- b1$sw; b1$z <- 0; b1$event <- "censor"
b2 <- d[d$etime > d$sw, ]; b2$tstart <- b2$sw; b2$tstop <- b2$etime; b2$z <- 1
tv <- rbind(a, b1, b2)
tv$event <- factor(tv$event, levels = c("censor", "pcm", "death"))
tv <- tv[order(tv$id, tv$tstart), c("id", "age", "male", "z", "tstart", "tstop", "event")]
write.csv(tv, "mgus2_tv.csv", row.names = FALSE)
fgt <- finegray(Surv(tstart, tstop, event) ~ ., data = tv, etype = "pcm", id = id)
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male + z, weights = fgwt, data = fgt,
               cluster = id, ties = ties)
  add("mgus2_tv", fit, ties)
}

## 2b. the same, but after a death the external z follows its known path (0 until sw,
##     1 after) instead of being carried forward: split finegray's rows at sw
fgc <- fgt
fgc$sw <- 12 * (1 + fgc$id %% 10)
dead <- d$id[d$event == "death"]
cut <- fgc$id %in% dead & fgc$fgstart < fgc$sw & fgc$fgstop > fgc$sw
a1 <- fgc[cut, ]; a1$fgstop <- a1$sw
a2 <- fgc[cut, ]; a2$fgstart <- a2$sw
fgc <- rbind(fgc[!cut, ], a1, a2)
fgc$z <- ifelse(fgc$id %in% dead & fgc$fgstart >= fgc$sw, 1, fgc$z)
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male + z, weights = fgwt, data = fgc,
               cluster = id, ties = ties)
  add("mgus2_tv_external", fit, ties)
}

## 3. late entry: age as the time scale (months of age), entry = age at diagnosis
d$astart <- d$age * 12; d$astop <- d$age * 12 + d$etime
fgl <- finegray(Surv(astart, astop, event) ~ ., data = d[, c("id", "male", "astart", "astop", "event")],
                etype = "pcm", id = id)
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ male, weights = fgwt, data = fgl,
               cluster = id, ties = ties)
  add("mgus2_age", fit, ties)
  if (ties == "efron") fit_age <- fit
}
sfa <- survfit(fit_age, newdata = data.frame(male = c(0, 1)))
ta <- c(70, 80, 90, 100) * 12
sa <- summary(sfa, times = ta, extend = TRUE)
write.csv(data.frame(time = rep(ta, 2), male = rep(0:1, each = length(ta)),
                     cif = 1 - c(sa$surv[, 1], sa$surv[, 2])), "predict_mgus2_age.csv",
          row.names = FALSE)

## 3a. late entry + time-varying external z + strata(male): tv rows on the age scale
tva <- tv
tva$a0 <- tva$age * 12 + tva$tstart; tva$a1 <- tva$age * 12 + tva$tstop
tva$asw <- tva$age * 12 + 12 * (1 + tva$id %% 10)
tva$sex <- tva$male
fga <- finegray(Surv(a0, a1, event) ~ z + id + sex + asw + strata(male),
                data = tva[, c("id", "z", "male", "sex", "asw", "a0", "a1", "event")],
                etype = "pcm", id = id)
cut <- fga$id %in% dead & fga$fgstart < fga$asw & fga$fgstop > fga$asw
a1 <- fga[cut, ]; a1$fgstop <- a1$asw
a2 <- fga[cut, ]; a2$fgstart <- a2$asw
fga <- rbind(fga[!cut, ], a1, a2)
fga$z <- ifelse(fga$id %in% dead & fga$fgstart >= fga$asw, 1, fga$z)
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ z + strata(sex), weights = fgwt, data = fga,
               cluster = id, ties = ties)
  add("mgus2_age_tv_external_strata", fit, ties)
}

## 3b. independent computation of the Geskus (2011) weights, without finegray():
##     w_j(t) = G(t-) H(t) / (G(T_j-) H(T_j)) for a competing exit at T_j, t > T_j,
##     G = left-truncated product-limit of censoring (exits leave before censorings
##     at the same time), H(t) = prod_{L >= t} (1 - e_L / m_L) over entry times L
##     (reversed-time product-limit; m_L = #{start <= L < stop}).
st <- d$astart; sp <- d$astop; code <- d$code
ct <- sort(unique(sp[code == 0]))
gfac <- sapply(ct, function(c) {
  n <- sum(st < c & sp >= c) - sum(code != 0 & sp == c); 1 - sum(code == 0 & sp == c) / n })
Gm <- function(t) prod(gfac[ct < t])
Lt <- sort(unique(st))
hfac <- sapply(Lt, function(L) 1 - sum(st == L) / sum(st <= L & sp > L))
Hm <- function(t) prod(hfac[Lt >= t])
K <- function(t) Gm(t) * Hm(t)
evt <- sort(unique(sp[code == 1]))
Kev <- sapply(evt, K)
rows <- list()
for (i in seq_len(nrow(d))) {
  if (code[i] != 2) {
    rows[[i]] <- data.frame(id = d$id[i], male = d$male[i], s = st[i], e = sp[i],
                            status = as.integer(code[i] == 1), w = 1)
  } else {
    KT <- K(sp[i]); later <- evt[evt > sp[i]]
    base <- data.frame(id = d$id[i], male = d$male[i], s = st[i], e = sp[i], status = 0L, w = 1)
    if (length(later) && KT > 0) {
      prev <- c(sp[i], later[-length(later)])
      ext <- data.frame(id = d$id[i], male = d$male[i], s = prev, e = later, status = 0L,
                        w = Kev[match(later, evt)] / KT)
      base <- rbind(base, ext)
    }
    rows[[i]] <- base
  }
}
man <- do.call(rbind, rows)
man <- man[man$w > 0, ]
fit_man <- coxph(Surv(s, e, status) ~ male, weights = w, data = man, cluster = id)
add("mgus2_age_manual", fit_man, "efron")
## timereg::prep.comp.risk: per-subject censoring and truncation weights at the exit time
## (its own tie conventions: a check of the weights, not of the model)
pc <- prep.comp.risk(data.frame(time = sp, cause = code, entry = st, id = d$id),
                     times = max(sp), entrytime = "entry", time = "time", cause = "cause")
pcd <- unique(pc[, c("id", "cweight", "tweight")])
write.csv(pcd, "timereg_weights_age.csv", row.names = FALSE)
kw <- data.frame(id = d$id, G = sapply(sp, Gm), H = sapply(sp, Hm))
write.csv(kw, "manual_weights_age.csv", row.names = FALSE)

res <- do.call(rbind, out)
write.csv(res, "finegray_reference.csv", row.names = FALSE)
sink("sessionInfo.txt"); print(sessionInfo()); sink()
