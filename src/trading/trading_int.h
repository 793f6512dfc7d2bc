/*
** trading_int.h — helpers shared by the src/trading/ files only (gpx__ prefix).
** Not part of the public API; include/gpx/trading.h is the module's face.
*/
#ifndef GPX_TRADING_INT_H
#define GPX_TRADING_INT_H

#include <math.h>

/*
** Neumaier's compensated addition: *sum + *comp carries the running total
** with an error bound independent of n, so a million small P&Ls added to a
** large equity keep their cents (plain summation loses ~n·ulp).
*/
static inline void gpx__nsum(double *sum, double *comp, double x) {
  double t = *sum + x;
  if (fabs(*sum) >= fabs(x))
    *comp += (*sum - t) + x;
  else
    *comp += (x - t) + *sum;
  *sum = t;
}

/* An output that overflowed (±Inf) or is undefined becomes NaN ("null"):
   trading.h promises no output is ever ±Inf. */
static inline double gpx__fin(double x) { return isfinite(x) ? x : NAN; }

#endif /* GPX_TRADING_INT_H */
