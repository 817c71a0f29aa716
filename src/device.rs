//! Which device a run trains on: the kind that enters the run key, and its one resolution to a
//! libtorch device (for the planner, the pool, the worker and `--verify-determinism` alike).

use serde::{Deserialize, Serialize};
#[cfg(torch)]
use tch::Device;

/// Which device kind runs train on; recorded in the key because results differ across kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("--device cuda: no CUDA device is available (see `repro doctor`)")]
    NoCuda,
    #[error("device `cuda:{ordinal}` is not available ({count} CUDA device(s))")]
    NoSuchGpu { ordinal: usize, count: usize },
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        }
    }

    /// CUDA devices a pool can spread workers over: 0 on CPU.
    /// (The front counts what `repro-torch` sees, [`crate::front::facts`].)
    pub fn gpus(self) -> usize {
        match self {
            DeviceKind::Cpu => 0,
            #[cfg(torch)]
            DeviceKind::Cuda => tch::Cuda::device_count().max(0) as usize,
            #[cfg(not(torch))]
            DeviceKind::Cuda => crate::front::facts().map_or(0, |f| f.gpus),
        }
    }

    /// Fails unless this kind can train here (checked before planning, so nothing starts).
    #[cfg(torch)]
    pub fn ensure_available(self) -> Result<(), DeviceError> {
        self.resolve(0).map(|_| ())
    }

    /// The front's check: `repro-torch`'s workers will find a GPU.
    #[cfg(not(torch))]
    pub fn ensure_available(self) -> Result<(), DeviceError> {
        match self {
            DeviceKind::Cuda if self.gpus() == 0 => Err(DeviceError::NoCuda),
            _ => Ok(()),
        }
    }

    /// The libtorch device for this kind; `ordinal` picks the GPU on CUDA.
    #[cfg(torch)]
    pub fn resolve(self, ordinal: usize) -> Result<Device, DeviceError> {
        match self {
            DeviceKind::Cpu => Ok(Device::Cpu),
            DeviceKind::Cuda if !tch::Cuda::is_available() => Err(DeviceError::NoCuda),
            DeviceKind::Cuda => {
                let count = self.gpus();
                if ordinal < count {
                    Ok(Device::Cuda(ordinal))
                } else {
                    Err(DeviceError::NoSuchGpu { ordinal, count })
                }
            }
        }
    }
}
