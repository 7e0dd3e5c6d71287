"""The performance suite: kernel throughput and the ratio to per-agent Python loops."""
