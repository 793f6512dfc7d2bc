#!/usr/bin/env python3
"""fake-exporter.py PORT — a tiny stand-in for the trading bot's /metrics on 127.0.0.1.

Serves the monitoring guide's metric names with values past every alert threshold
(drawdown 0.3, win rate 0.3, slippage 75 bps, daily loss 6000, CPU 95, memory 92)
and a latency histogram whose counters grow on every scrape with all requests in
the 1000-2500 ms bucket, so the p95 (HighAPILatency) is ~2425 ms. Used only by
tests/monitoring/run.sh; binds loopback only and exits when killed.
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

scrapes = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global scrapes
        if self.path != "/metrics":
            self.send_response(404)
            self.end_headers()
            return
        scrapes += 1
        n = 60 * scrapes  # monotonically increasing counters
        body = "\n".join([
            "# TYPE trading_max_drawdown gauge", "trading_max_drawdown 0.3",
            "# TYPE trading_win_rate gauge", "trading_win_rate 0.3",
            "# TYPE trading_avg_slippage_bps gauge", "trading_avg_slippage_bps 75",
            "# TYPE trading_daily_loss gauge", "trading_daily_loss 6000",
            "# TYPE trading_total_pnl gauge", "trading_total_pnl -12000",
            "# TYPE system_cpu_usage gauge", "system_cpu_usage 95",
            "# TYPE system_memory_usage gauge", "system_memory_usage 92",
            "# TYPE system_api_errors_total counter", f"system_api_errors_total {scrapes}",
            "# TYPE system_request_latency_ms histogram",
            'system_request_latency_ms_bucket{le="100"} 0',
            'system_request_latency_ms_bucket{le="500"} 0',
            'system_request_latency_ms_bucket{le="1000"} 0',
            f'system_request_latency_ms_bucket{{le="2500"}} {n}',
            f'system_request_latency_ms_bucket{{le="+Inf"}} {n}',
            f"system_request_latency_ms_sum {n * 2000}",
            f"system_request_latency_ms_count {n}",
            "",
        ]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
