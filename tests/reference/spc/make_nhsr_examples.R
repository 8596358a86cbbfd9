# Inputs and expected values of NHSRplotthedots' own tests, for tests/test_monitor_spc.py.
#
# NHSRplotthedots cannot be installed here (CRAN unreachable). The expected
# values are copied from its test snapshots at
#   github.com/nhs-r-community/NHSRplotthedots, commit 050b07d7eacc011767532732f69b8fd7d6a28fd3
#   tests/testthat/_snaps/ptd_spc_standard.md  (r1, r2, r3: mean_col, lpl, upl; 7 significant digits)
#   tests/testthat/_snaps/ptd_spc.md           (summary(): facets of 10 points; 3 significant digits)
# and the inputs re-made with base R exactly as those tests make them:
#   set.seed(123); y <- rnorm(20)   (r2/r3: y[15] <- 10; r3: screen_outliers = FALSE)
# Rule examples are from tests/testthat/test-ptd_calculate_point_type.R.
# Run: Rscript tests/reference/spc/make_nhsr_examples.R > tests/reference/spc/nhsr_examples.json
set.seed(123)
y <- rnorm(20)
y15 <- y
y15[15] <- 10
num <- function(v) paste(sprintf("%.17g", v), collapse = ", ")
cat("{\n")
cat(' "source": "NHSRplotthedots 050b07d7eacc011767532732f69b8fd7d6a28fd3 tests/testthat/_snaps",\n')
cat(sprintf(' "y": [%s],\n', num(y)))
cat(sprintf(' "y_outlier": [%s],\n', num(y15)))
cat(' "standard": [\n')
cat('  {"name": "r1", "series": "y", "screen_outliers": true, "mean_col": 0.1416238, "lpl": -3.01138, "upl": 3.294627, "digits": 7},\n')
cat('  {"name": "r2", "series": "y_outlier", "screen_outliers": true, "mean_col": 0.6694159, "lpl": -2.383666, "upl": 3.722497, "digits": 7},\n')
cat('  {"name": "r3", "series": "y_outlier", "screen_outliers": false, "mean_col": 0.6694159, "lpl": -4.596625, "upl": 5.935457, "digits": 7},\n')
cat('  {"name": "facet0", "series": "y", "slice": [0, 10], "screen_outliers": true, "mean_col": 0.0746, "lpl": -2.60, "upl": 2.75, "digits": 3},\n')
cat('  {"name": "facet1", "series": "y", "slice": [10, 20], "screen_outliers": true, "mean_col": 0.209, "lpl": -3.28, "upl": 3.70, "digits": 3}\n')
cat(' ],\n')
cat(' "summary_r1": {"n": 20, "common_cause": 20, "special_cause_improvement": 0, "special_cause_concern": 0},\n')
cat(' "two_in_three_opposite_sides": {"data": [1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 5.5, -5.5], "last_two_point_type": ["common_cause", "common_cause"]},\n')
cat(' "seven_point_trend": [\n')
cat('  {"y": [1, 2, 3, 4, 5, 6], "ends": [0, 0, 0, 0, 0, 0]},\n')
cat('  {"y": [1, 2, 3, 3, 4, 5, 6], "ends": [0, 0, 0, 0, 0, 0, 0]},\n')
cat('  {"y": [1, 2, 3, 4, 5, 6, 7], "ends": [0, 0, 0, 0, 0, 0, 1]},\n')
cat('  {"y": [2, 1, 2, 3, 4, 5, 6, 7, 3], "ends": [0, 0, 0, 0, 0, 0, 0, 1, 0]},\n')
cat('  {"y": [7, 6, 5, 4, 3, 2, 1], "ends": [0, 0, 0, 0, 0, 0, -1]},\n')
cat('  {"y": [2, 7, 6, 5, 4, 3, 2, 1, 3], "ends": [0, 0, 0, 0, 0, 0, 0, -1, 0]}\n')
cat(' ],\n')
cat(' "seven_point_one_side_mean": [\n')
cat('  {"side": [1, 1, 1, 1, 1, 1], "ends": [0, 0, 0, 0, 0, 0]},\n')
cat('  {"side": [1, 1, 1, 1, 1, 1, -1], "ends": [0, 0, 0, 0, 0, 0, 0]},\n')
cat('  {"side": [1, 1, 1, 1, 1, 1, 1, 1, -1], "ends": [0, 0, 0, 0, 0, 0, 1, 1, 0]},\n')
cat('  {"side": [-1, -1, -1, -1, -1, -1, -1, -1, 1], "ends": [0, 0, 0, 0, 0, 0, 1, 1, 0]}\n')
cat(' ],\n')
cat(' "part_of_two_in_three": [\n')
cat('  {"close": [1, 0, 1], "side": [1, 1, 1], "marked": [1, 0, 1]},\n')
cat('  {"close": [0, 1, 1], "side": [1, 1, 1], "marked": [0, 1, 1]},\n')
cat('  {"close": [1, 1, 0], "side": [1, 1, 1], "marked": [1, 1, 0]},\n')
cat('  {"close": [0, 0, 1, 0, 1, 0, 0], "side": [1, 1, 1, 1, 1, 1, 1], "marked": [0, 0, 1, 0, 1, 0, 0]},\n')
cat('  {"close": [1, 0, 0, 1], "side": [1, 1, 1, 1], "marked": [0, 0, 0, 0]},\n')
cat('  {"close": [1, 0, 0, 1, 1], "side": [1, 1, 1, 1, 1], "marked": [0, 0, 0, 1, 1]},\n')
cat('  {"close": [1, 0, 1], "side": [1, -1, 1], "marked": [0, 0, 0]},\n')
cat('  {"close": [0, 0, 1, 1, 0, 0, 0], "side": [-1, 1, -1, 1, -1, 1, -1], "marked": [0, 0, 0, 0, 0, 0, 0]}\n')
cat(' ]\n')
cat("}\n")
