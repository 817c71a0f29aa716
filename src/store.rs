//! The run store: the only module that knows paths under it.
//!
//! Layout: `<root>/<spec id>/<arm id>/<run key>/` holding `config.json` (written by the planner),
//! `provenance.json` (before training), `curve.csv` (rewritten at each curve point),
//! `record.json`, and `DONE` last. Every file is written to a temporary name in the same
//! directory, fsynced, renamed into place, and the directory fsynced: a crash leaves either the
//! old file or the new one, never half of one. A run directory without `DONE` is incomplete and
//! is started again from scratch.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub const CONFIG: &str = "config.json";
pub const PROVENANCE: &str = "provenance.json";
pub const CURVE: &str = "curve.csv";
pub const RECORD: &str = "record.json";
pub const DONE: &str = "DONE";
/// Append-only journal at the store's root: one `start`/`done` line per worker event.
pub const JOURNAL: &str = "journal.log";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One run's directory inside a [`Store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl Store {
    /// Appends one line to the store's journal (a single small `O_APPEND` write).
    pub fn journal(&self, line: &str) -> Result<(), StoreError> {
        append_line(&self.root.join(JOURNAL), line)
    }

    /// `--store`, else `$REPRO_STORE`, else `runs/`.
    pub fn open(explicit: Option<&Path>) -> Store {
        let root = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("REPRO_STORE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("runs"));
        Store { root }
    }

    /// Checks that runs can be written here before any is started: creates the root and
    /// writes, fsyncs and removes a probe file. The error names the path (permissions, a file
    /// where a directory should be, a full or read-only disk).
    pub fn ensure_writable(&self) -> Result<(), StoreError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let probe = self.root.join(format!(".probe-{}", std::process::id()));
        let result = write_atomic(&probe, b"probe");
        let _ = fs::remove_file(&probe);
        result
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store containing `dir` (a run directory is `<root>/<spec>/<arm>/<key>`).
    pub fn of_run_dir(dir: &RunDir) -> Store {
        let root = dir
            .path
            .ancestors()
            .nth(3)
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Store { root }
    }

    pub fn run_dir(&self, spec_id: &str, arm_id: &str, key: &str) -> RunDir {
        RunDir {
            path: self.root.join(spec_id).join(arm_id).join(key),
        }
    }
}

/// An exclusive lock on one run: an exclusive `flock` on the lock file `<run dir>.lock`,
/// which names the owning process and host. The kernel releases the lock when its process
/// dies however it dies (SIGKILL included), so a dead owner never blocks a run; on a shared
/// file system the lock manager does the same for a dead node. Dropping it removes the file,
/// then releases the lock.
#[derive(Debug)]
pub struct RunLock {
    lock: PathBuf,
    file: Option<File>,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Unlink first: a process that opened the old file and gets the lock after us sees that
        // the path no longer names it and starts over.
        let _ = fs::remove_file(&self.lock);
        drop(self.file.take());
    }
}

/// Who holds a run's lock, if anyone does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Nobody,
    /// A live process holds the lock (pid 0 and an empty host while it is writing its name).
    Alive {
        pid: u32,
        host: String,
    },
}

/// How long [`RunDir::lock`] keeps trying a lock that is busy: long enough to outlast a `holder()`
/// probe (which holds a shared lock for microseconds), far shorter than any training run.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(250);

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

impl RunDir {
    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// The live owner of this run's lock. A lock file nobody holds (its process died) is
    /// stale and means nobody.
    pub fn holder(&self) -> Holder {
        let Ok(file) = File::open(self.lock_path()) else {
            return Holder::Nobody;
        };
        match file.try_lock_shared() {
            Ok(()) => Holder::Nobody,
            Err(_) => {
                let text = fs::read_to_string(self.lock_path()).unwrap_or_default();
                let mut words = text.split_whitespace();
                Holder::Alive {
                    pid: words.next().and_then(|p| p.parse().ok()).unwrap_or(0),
                    host: words.next().unwrap_or_default().to_string(),
                }
            }
        }
    }

    /// Locks the run for this process. `None` when another live process holds it, or it is
    /// done and `force` is off. A lock file left by a dead process is simply locked anew.
    pub fn lock(&self, force: bool) -> Result<Option<RunLock>, StoreError> {
        let lock = self.lock_path();
        if let Some(parent) = lock.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let start = std::time::Instant::now();
        loop {
            let mut file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock)
                .map_err(io(&lock))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= LOCK_PATIENCE {
                        return Ok(None);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                    continue;
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(StoreError::Io {
                        path: lock,
                        source: e,
                    })
                }
            }
            // The previous owner may have removed the file between our open and our lock:
            // then we hold a lock on a file no longer at this path. Start over.
            let here = fs::metadata(&lock);
            let mine = file.metadata().map_err(io(&lock))?;
            if !matches!(&here, Ok(m) if same_file(m, &mine)) {
                continue;
            }
            let me = format!("{} {}\n", std::process::id(), crate::provenance::hostname());
            file.set_len(0)
                .and_then(|_| file.write_all(me.as_bytes()))
                .and_then(|_| file.sync_all())
                .map_err(io(&lock))?;
            let held = RunLock {
                lock,
                file: Some(file),
            };
            // Another process may have finished it between planning and now.
            return Ok((force || !self.is_done()).then_some(held));
        }
    }

    pub fn from_path(path: &Path) -> RunDir {
        RunDir {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_done(&self) -> bool {
        self.path.join(DONE).is_file()
    }

    /// When the run finished: the modification time of its `DONE` marker, in seconds since
    /// the Unix epoch (`None` while not done, or where the file system keeps no times).
    pub fn finished_at(&self) -> Option<u64> {
        let modified = fs::metadata(self.path.join(DONE)).ok()?.modified().ok()?;
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }

    /// Empties an incomplete (or, with `force`, a finished) run directory and creates it anew.
    pub fn reset(&self) -> Result<(), StoreError> {
        if self.path.exists() {
            fs::remove_dir_all(&self.path).map_err(io(&self.path))?;
        }
        fs::create_dir_all(&self.path).map_err(io(&self.path))?;
        if let Some(parent) = self.path.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Where a forced rerun of a finished run trains (`<key>.new`, emptied first), so the old
    /// result stays whole until [`RunDir::replace_with`] puts the new one in its place.
    pub fn staging(&self) -> Result<RunDir, StoreError> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".new");
        let staging = RunDir {
            path: self.path.with_file_name(name),
        };
        staging.reset()?;
        Ok(staging)
    }

    /// Puts back a finished result that a forced rerun had moved aside (`<key>.old`) when it
    /// died between [`RunDir::replace_with`]'s two renames; call with the run's lock held.
    pub fn recover_replaced(&self) -> Result<bool, StoreError> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".old");
        let old = self.path.with_file_name(name);
        if self.is_done() || !old.join(DONE).is_file() {
            return Ok(false);
        }
        if self.path.exists() {
            fs::remove_dir_all(&self.path).map_err(io(&self.path))?;
        }
        fs::rename(&old, &self.path).map_err(io(&old))?;
        if let Some(parent) = self.path.parent() {
            sync_dir(parent)?;
        }
        Ok(true)
    }

    /// Replaces this run's directory with the complete `new` one (two renames: the old result
    /// is moved aside, the new one moved in, the old one removed).
    pub fn replace_with(&self, new: &RunDir) -> Result<(), StoreError> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".old");
        let old = self.path.with_file_name(name);
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        if self.path.exists() {
            fs::rename(&self.path, &old).map_err(io(&self.path))?;
        }
        fs::rename(&new.path, &self.path).map_err(io(&new.path))?;
        if let Some(parent) = self.path.parent() {
            sync_dir(parent)?;
        }
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        Ok(())
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        let path = self.path.join(name);
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Json {
            path: path.clone(),
            source,
        })?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes)
    }

    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T, StoreError> {
        let path = self.path.join(name);
        let bytes = fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Json { path, source })
    }

    pub fn write_text(&self, name: &str, text: &str) -> Result<(), StoreError> {
        write_atomic(&self.path.join(name), text.as_bytes())
    }

    /// Marks the run complete; must be the last write.
    pub fn mark_done(&self) -> Result<(), StoreError> {
        write_atomic(&self.path.join(DONE), b"")
    }
}

/// Appends `line` and a newline to `path` (created with its directory if missing) in one
/// `O_APPEND` write, so lines from concurrent processes never interleave.
pub fn append_line(path: &Path, line: &str) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    f.write_all(format!("{line}\n").as_bytes())
        .map_err(io(path))
}

/// Writes `bytes` to `path` via a fsynced temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    // Temporary files are created 0600; results are meant to be read by others (a shared store,
    // a committed report).
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io(tmp.path()))?;
    }
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(Some(dir.path()));
        let run = store.run_dir("s", "a", "k");
        run.reset().unwrap();
        run.write_json(RECORD, &vec![1, 2]).unwrap();
        run.write_json(RECORD, &vec![3]).unwrap();
        assert_eq!(run.read_json::<Vec<i32>>(RECORD).unwrap(), vec![3]);
        assert!(!run.is_done());
        run.mark_done().unwrap();
        assert!(run.is_done());
        let names: Vec<_> = fs::read_dir(run.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with(".tmp-")), "{names:?}");
    }

    /// A forced rerun that died between `replace_with`'s two renames left the finished result
    /// in `<key>.old` and no `<key>`: the next worker puts it back instead of retraining.
    #[test]
    fn a_result_moved_aside_by_a_dead_forced_rerun_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let run = Store::open(Some(dir.path())).run_dir("s", "a", "k");
        run.reset().unwrap();
        run.write_json(RECORD, &vec![7]).unwrap();
        run.mark_done().unwrap();
        assert!(!run.recover_replaced().unwrap(), "nothing to recover");
        let old = run.path().with_file_name("k.old");
        fs::rename(run.path(), &old).unwrap();
        assert!(!run.is_done());
        assert!(run.recover_replaced().unwrap());
        assert!(run.is_done() && !old.exists());
        assert_eq!(run.read_json::<Vec<i32>>(RECORD).unwrap(), vec![7]);
        // And a complete swap leaves one directory, the new one.
        let new = run.staging().unwrap();
        new.write_json(RECORD, &vec![8]).unwrap();
        new.mark_done().unwrap();
        run.replace_with(&new).unwrap();
        assert_eq!(run.read_json::<Vec<i32>>(RECORD).unwrap(), vec![8]);
        assert!(!old.exists() && !run.path().with_file_name("k.new").exists());
    }

    #[test]
    fn locks_are_exclusive_and_stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let run = Store::open(Some(dir.path())).run_dir("s", "a", "k");
        let first = run.lock(false).unwrap().expect("free run");
        assert!(
            run.lock(true).unwrap().is_none(),
            "held by this live process"
        );
        assert!(matches!(run.holder(), Holder::Alive { .. }));
        drop(first);
        assert_eq!(run.holder(), Holder::Nobody);
        // A lock left by a process that no longer exists (pid beyond pid_max) is stale.
        fs::write(
            run.lock_path(),
            format!("4194305 {}\n", crate::provenance::hostname()),
        )
        .unwrap();
        assert_eq!(run.holder(), Holder::Nobody);
        let taken = run.lock(false).unwrap();
        assert!(taken.is_some());
    }

    #[test]
    fn a_lock_is_released_when_its_process_dies() {
        let dir = tempfile::tempdir().unwrap();
        let run = Store::open(Some(dir.path())).run_dir("s", "a", "k");
        fs::create_dir_all(dir.path().join("s/a")).unwrap();
        // One child process takes the lock with flock(1) on an fd it keeps (the shell execs
        // into sleep), then is killed with SIGKILL.
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"exec 9>>"$0" && flock -x 9 && exec sleep 30"#)
            .arg(run.lock_path())
            .spawn()
            .expect("sh and util-linux flock");
        let start = std::time::Instant::now();
        while run.holder() == Holder::Nobody {
            assert!(start.elapsed().as_secs() < 10, "child never took the lock");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(run.lock(false).unwrap().is_none(), "held by a live process");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(run.holder(), Holder::Nobody, "released by the kernel");
        let held = run.lock(false).unwrap().expect("free again");
        assert!(fs::read_to_string(run.lock_path())
            .unwrap()
            .starts_with(&format!("{} ", std::process::id())));
        drop(held);
        assert!(!run.lock_path().exists());
    }

    #[test]
    fn io_errors_name_the_path() {
        let run = RunDir::from_path(Path::new("/nonexistent/dir/for/repro"));
        let err = run.read_json::<Vec<i32>>(RECORD).unwrap_err();
        assert!(err
            .to_string()
            .contains("/nonexistent/dir/for/repro/record.json"));
    }
}
