"""Rate limiters: token buckets and log-in failure counters, in Redis or in this process."""
