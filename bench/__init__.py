"""avowal's benchmarks: each prints figures as ratios measured side by side in one run."""
