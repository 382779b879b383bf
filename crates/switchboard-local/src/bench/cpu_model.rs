//! Lambda's CPU model for the bench: a function's process in a cgroup of its own, which counts the
//! CPU it uses (user + system, every thread, to the nanosecond) and, from its first `next` call on,
//! holds it to memory/1,769 MB of one core, as Lambda's invoke phase does (init runs at full CPU).
//!
//! How short a burst escapes the quota depends on the scheduler's period (CFS bandwidth control),
//! which AWS does not publish: the bench reports 20 ms and 100 ms, a range.
//!
//! cgroup v1 (`/sys/fs/cgroup/cpu` and `/sys/fs/cgroup/cpuacct`, as on this project's machines) or
//! v2 (`/sys/fs/cgroup` with the `cpu` controller); either needs root.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// The memory size at which Lambda gives a function one full vCPU.
pub const FULL_VCPU_MB: u64 = 1_769;
/// The memory sizes the bench reports.
pub const MEMORY_SIZES_MB: [u64; 4] = [128, 256, 512, 1_024];
/// The scheduler periods the bench reports (ms).
pub const PERIODS_MS: [u64; 2] = [20, 100];

/// A memory size and the scheduler period its quota is enforced over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuModel {
    pub memory_mb: u64,
    pub period_ms: u64,
}

impl CpuModel {
    /// The CPU time allowed per period: the period's share of one core for this memory size.
    pub fn quota_us(&self) -> u64 {
        (self.period_ms * 1_000 * self.memory_mb / FULL_VCPU_MB).max(1_000)
    }

    /// Every model the bench reports.
    pub fn all() -> Vec<Self> {
        MEMORY_SIZES_MB
            .iter()
            .flat_map(|&memory_mb| PERIODS_MS.iter().map(move |&period_ms| Self { memory_mb, period_ms }))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(
        "no writable cgroup with the cpu controller (run the bench as root): {0}; \
         looked for /sys/fs/cgroup/cpu (v1) and /sys/fs/cgroup/cgroup.controllers (v2)"
    )]
    Unavailable(String),
    #[error("cgroup {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

#[derive(Debug)]
enum Layout {
    /// v1: the cpu hierarchy's group (quota) and the cpuacct hierarchy's (usage).
    V1 { cpu: PathBuf, cpuacct: PathBuf },
    /// v2: one group.
    V2 { group: PathBuf },
}

/// One process's cgroup; removed when dropped (once its process has exited).
#[derive(Debug)]
pub struct Cgroup {
    layout: Layout,
}

const ROOT: &str = "/sys/fs/cgroup";
const PARENT: &str = "switchboard-bench";

fn io(path: &Path) -> impl Fn(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io { path: path.display().to_string(), source }
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io(path))
}

fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(io(path))
}

impl Cgroup {
    /// A new, unlimited group named `name` (unique per process measured).
    pub fn create(name: &str) -> Result<Self, CgroupError> {
        let root = Path::new(ROOT);
        let layout = if root.join("cpu/cpu.cfs_quota_us").exists() {
            let cpu = root.join("cpu").join(PARENT).join(name);
            let cpuacct = root.join("cpuacct").join(PARENT).join(name);
            for dir in [&cpu, &cpuacct] {
                std::fs::create_dir_all(dir)
                    .map_err(|e| CgroupError::Unavailable(format!("{}: {e}", dir.display())))?;
            }
            Layout::V1 { cpu, cpuacct }
        } else if read(&root.join("cgroup.controllers")).is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu")) {
            let parent = root.join(PARENT);
            std::fs::create_dir_all(&parent)
                .map_err(|e| CgroupError::Unavailable(format!("{}: {e}", parent.display())))?;
            // The cpu controller must be enabled for the parent's children.
            write(&root.join("cgroup.subtree_control"), "+cpu")?;
            write(&parent.join("cgroup.subtree_control"), "+cpu")?;
            let group = parent.join(name);
            std::fs::create_dir_all(&group).map_err(io(&group))?;
            Layout::V2 { group }
        } else {
            return Err(CgroupError::Unavailable("neither layout found".into()));
        };
        Ok(Self { layout })
    }

    /// Moves process `pid` (all its threads) into the group.
    pub fn add(&self, pid: u32) -> Result<(), CgroupError> {
        match &self.layout {
            Layout::V1 { cpu, cpuacct } => {
                write(&cpu.join("cgroup.procs"), &pid.to_string())?;
                write(&cpuacct.join("cgroup.procs"), &pid.to_string())
            }
            Layout::V2 { group } => write(&group.join("cgroup.procs"), &pid.to_string()),
        }
    }

    /// Holds the group to `model`'s share of one core.
    pub fn limit(&self, model: CpuModel) -> Result<(), CgroupError> {
        let period_us = model.period_ms * 1_000;
        match &self.layout {
            Layout::V1 { cpu, .. } => {
                // The quota first, off: a period shorter than the current quota is refused otherwise.
                write(&cpu.join("cpu.cfs_quota_us"), "-1")?;
                write(&cpu.join("cpu.cfs_period_us"), &period_us.to_string())?;
                write(&cpu.join("cpu.cfs_quota_us"), &model.quota_us().to_string())
            }
            Layout::V2 { group } => write(&group.join("cpu.max"), &format!("{} {period_us}", model.quota_us())),
        }
    }

    /// The CPU the group's processes used so far (user + system).
    pub fn usage(&self) -> Result<Duration, CgroupError> {
        match &self.layout {
            Layout::V1 { cpuacct, .. } => {
                let path = cpuacct.join("cpuacct.usage");
                let text = read(&path)?;
                let nanos = text.trim().parse::<u64>().map_err(|e| io(&path)(std::io::Error::other(e)))?;
                Ok(Duration::from_nanos(nanos))
            }
            Layout::V2 { group } => {
                let path = group.join("cpu.stat");
                let text = read(&path)?;
                let micros = text
                    .lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| io(&path)(std::io::Error::other("no usage_usec")))?;
                Ok(Duration::from_micros(micros))
            }
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Only an empty group can go; a process still exiting leaves it for the next run's name.
        let dirs = match &self.layout {
            Layout::V1 { cpu, cpuacct } => vec![cpu.clone(), cpuacct.clone()],
            Layout::V2 { group } => vec![group.clone()],
        };
        for dir in dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_is_the_memory_sizes_share_of_one_core_per_period() {
        assert_eq!(CpuModel { memory_mb: 1_769, period_ms: 100 }.quota_us(), 100_000);
        assert_eq!(CpuModel { memory_mb: 128, period_ms: 20 }.quota_us(), 1_447);
        assert_eq!(CpuModel { memory_mb: 128, period_ms: 100 }.quota_us(), 7_235);
        assert_eq!(CpuModel { memory_mb: 1_024, period_ms: 20 }.quota_us(), 11_577);
        // The kernel refuses a quota under 1 ms.
        assert_eq!(CpuModel { memory_mb: 64, period_ms: 20 }.quota_us(), 1_000);
        assert_eq!(CpuModel::all().len(), 8);
    }
}
