//! What the engine's defaults need to know about the machine that runs them: how much cache
//! one worker thread can count on.
//!
//! The number of tiles stepped together trades two costs: every step streams all the weights
//! once per batch (more tiles share that load), and every step reads each tile's whole
//! attention key/value cache (more tiles stop fitting in the cache). The best batch therefore
//! depends on the CPU's caches, not on the machine the defaults were tuned on. They are read
//! from the operating system (Linux's sysfs); where it says nothing, the engine falls back to
//! a fixed choice. Output bytes never depend on any of it.

use std::path::Path;
use std::sync::OnceLock;

/// The caches of the CPU the process runs on (those of CPU 0), as the OS reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caches {
    /// Bytes of the level-2 cache of one core.
    pub l2: usize,
    /// Bytes of the last-level (level-3) cache; 0 if there is none.
    pub l3: usize,
    /// CPUs that share that level-3 cache (at least 1).
    pub l3_sharers: usize,
}

impl Caches {
    /// This machine's caches, read once; `None` where the OS does not say (not Linux, or a
    /// sandbox without sysfs).
    pub fn detect() -> Option<Caches> {
        static CACHES: OnceLock<Option<Caches>> = OnceLock::new();
        *CACHES.get_or_init(|| Caches::read(Path::new("/sys/devices/system/cpu/cpu0/cache")))
    }

    /// Reads the `index*` folders of a sysfs cache directory.
    fn read(dir: &Path) -> Option<Caches> {
        let mut caches = Caches {
            l2: 0,
            l3: 0,
            l3_sharers: 1,
        };
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let field = |name: &str| std::fs::read_to_string(entry.path().join(name)).ok();
            let (Some(level), Some(kind), Some(size)) =
                (field("level"), field("type"), field("size"))
            else {
                continue;
            };
            if kind.trim() == "Instruction" {
                continue;
            }
            let Some(bytes) = parse_size(&size) else {
                continue;
            };
            match level.trim() {
                "2" => caches.l2 = bytes,
                "3" => {
                    caches.l3 = bytes;
                    caches.l3_sharers = field("shared_cpu_list")
                        .and_then(|list| count_cpus(&list))
                        .unwrap_or(1);
                }
                _ => {}
            }
        }
        (caches.l2 > 0).then_some(caches)
    }

    /// Cache one worker thread can count on when every CPU runs one: its core's level 2
    /// plus its share of the level 3.
    pub fn per_thread(&self) -> usize {
        self.l2 + self.l3 / self.l3_sharers.max(1)
    }
}

/// A sysfs cache size (`512K`, `32768K`, `1M`, or plain bytes).
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let n: usize = digits.parse().ok()?;
    let unit = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// CPUs in a sysfs CPU list (`0-3,8,10-11`).
fn count_cpus(list: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                b.checked_sub(a)? + 1
            }
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

/// Fewest and most tiles per batch the cache rule chooses.
pub const BATCH_RANGE: (usize, usize) = (4, 16);

/// Tiles per batch for `per_thread` bytes of cache when one tile's key/value cache holds
/// `per_tile` bytes on average over its positions: as many as fit, within [`BATCH_RANGE`].
pub fn batch_for_cache(per_thread: usize, per_tile: usize) -> usize {
    (per_thread / per_tile.max(1)).clamp(BATCH_RANGE.0, BATCH_RANGE.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_sizes_and_cpu_lists_parse() {
        assert_eq!(parse_size("512K\n"), Some(512 << 10));
        assert_eq!(parse_size("32768K"), Some(32 << 20));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("12Q"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(count_cpus("0-1\n"), Some(2));
        assert_eq!(count_cpus("0-3,8,10-11"), Some(7));
        assert_eq!(count_cpus("5"), Some(1));
        assert_eq!(count_cpus("3-1"), None);
        assert_eq!(count_cpus("x"), None);
    }

    #[test]
    fn a_sysfs_tree_is_read() {
        let dir = std::env::temp_dir().join(format!("snailzip-caches-{}", std::process::id()));
        for (i, level, kind, size, shared) in [
            (0, "1", "Data", "32K", "0"),
            (1, "1", "Instruction", "32K", "0"),
            (2, "2", "Unified", "1024K", "0"),
            (3, "3", "Unified", "32768K", "0-7"),
        ] {
            let d = dir.join(format!("index{i}"));
            std::fs::create_dir_all(&d).unwrap();
            for (name, text) in [
                ("level", level),
                ("type", kind),
                ("size", size),
                ("shared_cpu_list", shared),
            ] {
                std::fs::write(d.join(name), format!("{text}\n")).unwrap();
            }
        }
        let caches = Caches::read(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let want = Caches {
            l2: 1 << 20,
            l3: 32 << 20,
            l3_sharers: 8,
        };
        assert_eq!(caches, Some(want));
        assert_eq!(want.per_thread(), 5 << 20);
        assert_eq!(Caches::read(Path::new("/nonexistent/snailzip")), None);
    }

    #[test]
    fn the_batch_follows_the_cache() {
        let tile = 240 << 10;
        // a laptop's share (2.4 MiB), a server core's (5 MiB), a 2-CPU VM's (16.5 MiB)
        assert_eq!(batch_for_cache(2_400 << 10, tile), 10);
        assert_eq!(batch_for_cache(5 << 20, tile), 16);
        assert_eq!(batch_for_cache(33 << 19, tile), 16);
        assert_eq!(batch_for_cache(256 << 10, tile), 4);
        assert_eq!(batch_for_cache(0, 0), 4);
    }
}
