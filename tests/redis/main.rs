//! The tests that need a real `redis-server` (Debian's package; they fail with a hint when it
//! is missing): the Redis cache tier, and lookups sharing their cache through Redis. One test
//! binary, `cargo test --test redis`; every server is a throwaway one on a free loopback port
//! (`testkit::redis::RedisServer`; Cluster, Sentinel and TLS in `testkit::redis_ha`).

mod cache_redis;
mod ha;
mod lookup;
