//! The `[cache]` Redis keys read as one [`RedisTarget`]: exactly one of `redis_url`,
//! `redis_sentinels` (with `redis_master`) and `redis_cluster`, and the access keys only where
//! they apply.

use crate::cache::redis::{RedisAccess, RedisTarget};

use super::CacheSection;

impl CacheSection {
    /// The Redis the cache shares, or `None` when no Redis key is set; `Err` says which
    /// keys conflict or are missing.
    pub fn redis_target(&self) -> Result<Option<RedisTarget>, String> {
        let modes: Vec<&str> = [
            ("redis_url", self.redis_url.is_some()),
            ("redis_sentinels", !self.redis_sentinels.is_empty()),
            ("redis_cluster", !self.redis_cluster.is_empty()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        if modes.len() > 1 {
            return Err(format!(
                "[cache] {} are set: give one of redis_url (one Redis), redis_sentinels \
                 (with redis_master) and redis_cluster",
                modes.join(" and ")
            ));
        }
        let sentinel_auth =
            self.redis_sentinel_username.is_some() || self.redis_sentinel_password.is_some();
        if sentinel_auth && self.redis_sentinels.is_empty() {
            return Err(
                "[cache] redis_sentinel_username/redis_sentinel_password are set without \
                 redis_sentinels: they are what the sentinels ask for"
                    .into(),
            );
        }
        if self.redis_master.is_some() && self.redis_sentinels.is_empty() {
            return Err(
                "[cache] redis_master is set without redis_sentinels: it names the primary \
                 the sentinels watch"
                    .into(),
            );
        }
        let access = RedisAccess {
            username: self.redis_username.clone(),
            password: self.redis_password.clone(),
            sentinel_username: self.redis_sentinel_username.clone(),
            sentinel_password: self.redis_sentinel_password.clone(),
            tls: self.redis_tls,
            tls_ca: self.redis_tls_ca.clone(),
            db: self.redis_db.unwrap_or(0),
        };
        if let Some(url) = &self.redis_url {
            let misplaced: Vec<&str> = [
                ("redis_username", self.redis_username.is_some()),
                ("redis_password", self.redis_password.is_some()),
                ("redis_tls", self.redis_tls),
                ("redis_db", self.redis_db.is_some()),
            ]
            .into_iter()
            .filter_map(|(key, set)| set.then_some(key))
            .collect();
            if !misplaced.is_empty() {
                return Err(format!(
                    "[cache] {} with redis_url: write them in the URL \
                     (rediss://user:password@host:6379/0)",
                    misplaced.join(", ")
                ));
            }
            if self.redis_tls_ca.is_some() && !url.starts_with("rediss://") {
                return Err(
                    "[cache] redis_tls_ca is set but redis_url is not a rediss:// (TLS) URL".into(),
                );
            }
            return Ok(Some(RedisTarget::Single {
                url: url.clone(),
                tls_ca: self.redis_tls_ca.clone(),
            }));
        }
        if !self.redis_sentinels.is_empty() {
            let Some(master) = self.redis_master.clone().filter(|m| !m.trim().is_empty()) else {
                return Err(
                    "[cache] redis_sentinels needs redis_master, the name the sentinels know \
                     the primary by (e.g. \"mymaster\")"
                        .into(),
                );
            };
            return Ok(Some(RedisTarget::Sentinel {
                sentinels: self.redis_sentinels.clone(),
                master,
                access,
            }));
        }
        if !self.redis_cluster.is_empty() {
            if self.redis_db.is_some_and(|db| db != 0) {
                return Err(
                    "[cache] redis_db with redis_cluster: a Redis Cluster has only database 0"
                        .into(),
                );
            }
            return Ok(Some(RedisTarget::Cluster {
                nodes: self.redis_cluster.clone(),
                access,
            }));
        }
        let stray: Vec<&str> = [
            ("redis_username", self.redis_username.is_some()),
            ("redis_password", self.redis_password.is_some()),
            ("redis_tls", self.redis_tls),
            ("redis_tls_ca", self.redis_tls_ca.is_some()),
            ("redis_db", self.redis_db.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        if !stray.is_empty() {
            return Err(format!(
                "[cache] {} set without a Redis: add redis_sentinels or redis_cluster",
                stray.join(", ")
            ));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn error(text: &str) -> String {
        Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn one_redis_mode_at_a_time_and_sentinels_need_a_master() {
        let both = error(
            "[cache]\nredis_url = \"redis://127.0.0.1/\"\nredis_cluster = [\"127.0.0.1:7000\"]\n",
        );
        assert!(
            both.contains("redis_url and redis_cluster are set"),
            "{both}"
        );
        let no_master = error("[cache]\nredis_sentinels = [\"127.0.0.1:26379\"]\n");
        assert!(
            no_master.contains("redis_sentinels needs redis_master"),
            "{no_master}"
        );
        let url_and_password =
            error("[cache]\nredis_url = \"redis://127.0.0.1/\"\nredis_password = \"x\"\n");
        assert!(url_and_password.contains("redis_password with redis_url"));
        let cluster_db = error("[cache]\nredis_cluster = [\"127.0.0.1:7000\"]\nredis_db = 2\n");
        assert!(cluster_db.contains("only database 0"), "{cluster_db}");
        let cluster_sentinel_password = error(
            "[cache]\nredis_cluster = [\"127.0.0.1:7000\"]\nredis_sentinel_password = \"x\"\n",
        );
        assert!(
            cluster_sentinel_password.contains("without redis_sentinels"),
            "{cluster_sentinel_password}"
        );
    }

    #[test]
    fn each_mode_becomes_its_target() {
        let c = Config::parse(
            "[cache]\nredis_sentinels = [\"127.0.0.1:26379\"]\nredis_master = \"m\"\n\
             redis_username = \"u\"\nredis_password = \"p\"\nredis_tls = true\nredis_db = 3\n\
             redis_sentinel_password = \"sp\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let target = c.cache.redis_target().unwrap().unwrap();
        let shown = format!("{target} {target:?}");
        assert!(
            shown.contains("Sentinel") && !shown.contains("\"p\"") && !shown.contains("\"sp\""),
            "{shown}"
        );
        assert_eq!(Config::default().cache.redis_target().unwrap(), None);
    }
}
