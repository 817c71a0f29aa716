//! Issue 15: a training process keeps its large, short-lived CPU tensors on glibc's heap
//! (`provenance::configure` raises malloc's mmap and trim thresholds). Without that, every
//! block over 128 KiB came from fresh pages and went back to the kernel on free, so each step
//! of the MNIST-1D LSTM faulted in and zeroed oneDNN's workspace again: half its time.
//!
//! The allocator's counters are per process and the tests run in parallel threads, so the
//! check runs in a child process of this test binary that runs only this test.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::process::Command;

    /// glibc's `struct mallinfo2` (2.33 and later).
    #[repr(C)]
    struct MallInfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }

    unsafe extern "C" {
        fn mallinfo2() -> MallInfo2;
    }

    /// Bytes in blocks glibc serves with their own mapping.
    fn mmapped() -> usize {
        // SAFETY: reads the allocator's statistics.
        unsafe { mallinfo2() }.hblkhd
    }

    const CHILD: &str = "REPRO_TEST_MALLOC_CHILD";
    const NAME: &str = "malloc::glibc::large_tensors_stay_on_the_heap";

    #[test]
    fn large_tensors_stay_on_the_heap() {
        if std::env::var_os(CHILD).is_none() {
            let exe = std::env::current_exe().expect("the test binary's path");
            let out = Command::new(exe)
                .args([NAME, "--exact", "--test-threads", "1", "--nocapture"])
                .env(CHILD, "1")
                .env_remove("GLIBC_TUNABLES")
                .env_remove("MALLOC_MMAP_THRESHOLD_")
                .env_remove("MALLOC_TRIM_THRESHOLD_")
                .output()
                .expect("run the test binary");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "child failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        repro::provenance::configure(1, true);
        // 24 MiB, the size of the LSTM's largest per-step buffers; allocated, freed and
        // allocated again, as a training step does.
        for round in 0..3 {
            let before = mmapped();
            let t = tch::Tensor::zeros([6 << 20], (tch::Kind::Float, tch::Device::Cpu));
            let during = mmapped();
            drop(t);
            assert!(
                during < before + (1 << 20),
                "round {round}: the 24 MiB tensor was mapped on its own ({before} → {during} bytes mapped)"
            );
        }
    }
}
