//! Backends and the runtime device choice.
//!
//! burn picks a backend at compile time (a type parameter), while our configs pick a device at run
//! time (`device: cpu|wgpu|cuda`). [`run_on`] bridges the two: the caller writes its work once as a
//! [`BackendTask`], generic over any autodiff backend, and `run_on` instantiates it for the backend
//! the runtime choice names, or fails with [`DeviceError::NotCompiled`] when that backend was not
//! compiled in (features `wgpu`, `cuda`).

use std::fmt;
use std::str::FromStr;

use burn::tensor::backend::AutodiffBackend;

/// The default backend: burn's CPU backend `flex`, f32, with autodiff.
pub type CpuBackend = burn::backend::Autodiff<burn::backend::Flex>;
/// Device of [`CpuBackend`].
pub type CpuDevice = burn::backend::flex::FlexDevice;

/// burn's wgpu backend (Vulkan, Metal, DX12 or WebGPU), f32, with autodiff.
#[cfg(feature = "wgpu")]
pub type WgpuBackend = burn::backend::Autodiff<burn::backend::Wgpu>;

/// burn's CUDA backend, f32, with autodiff.
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Autodiff<burn::backend::Cuda>;

/// Which device to run on, chosen at run time (`device:` in YAML, `--device` on the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// burn's `flex` CPU backend; always compiled in.
    #[default]
    Cpu,
    /// burn's wgpu backend; needs the `wgpu` feature.
    Wgpu,
    /// burn's CUDA backend; needs the `cuda` feature.
    Cuda,
}

impl DeviceKind {
    /// All kinds, compiled in or not.
    pub const ALL: [DeviceKind; 3] = [DeviceKind::Cpu, DeviceKind::Wgpu, DeviceKind::Cuda];

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Wgpu => "wgpu",
            DeviceKind::Cuda => "cuda",
        }
    }

    /// Whether this binary was compiled with the backend for this kind.
    pub fn is_compiled(self) -> bool {
        match self {
            DeviceKind::Cpu => true,
            DeviceKind::Wgpu => cfg!(feature = "wgpu"),
            DeviceKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The kinds compiled into this binary.
    pub fn compiled() -> Vec<DeviceKind> {
        Self::ALL.into_iter().filter(|k| k.is_compiled()).collect()
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeviceKind {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceKind::Cpu),
            "wgpu" => Ok(DeviceKind::Wgpu),
            "cuda" => Ok(DeviceKind::Cuda),
            _ => Err(DeviceError::Unknown(s.to_string())),
        }
    }
}

/// Why a device could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error("unknown device `{0}`; expected one of cpu, wgpu, cuda")]
    Unknown(String),
    #[error(
        "device `{asked}` is not compiled into this binary (compiled: {compiled}); \
         rebuild with `--features {asked}`"
    )]
    NotCompiled { asked: DeviceKind, compiled: String },
}

/// Work written once over any autodiff backend; [`run_on`] picks the backend at run time.
pub trait BackendTask {
    type Output;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output;
}

/// Runs `task` on the backend `kind` names, on that backend's default device.
pub fn run_on<T: BackendTask>(kind: DeviceKind, task: T) -> Result<T::Output, DeviceError> {
    if !kind.is_compiled() {
        let compiled = DeviceKind::compiled()
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(DeviceError::NotCompiled {
            asked: kind,
            compiled,
        });
    }
    match kind {
        DeviceKind::Cpu => Ok(task.run::<CpuBackend>(CpuDevice::default())),
        #[cfg(feature = "wgpu")]
        DeviceKind::Wgpu => Ok(task.run::<WgpuBackend>(burn::backend::wgpu::WgpuDevice::default())),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => Ok(task.run::<CudaBackend>(burn::backend::cuda::CudaDevice::default())),
        #[allow(unreachable_patterns)]
        _ => unreachable!("checked by is_compiled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::ElementConversion;

    #[test]
    fn parses_names_and_rejects_unknown() {
        assert_eq!("CPU".parse::<DeviceKind>(), Ok(DeviceKind::Cpu));
        assert_eq!("cuda".parse::<DeviceKind>(), Ok(DeviceKind::Cuda));
        assert!(matches!(
            "tpu".parse::<DeviceKind>(),
            Err(DeviceError::Unknown(_))
        ));
    }

    struct Sum;
    impl BackendTask for Sum {
        type Output = f32;
        fn run<B: AutodiffBackend>(self, device: B::Device) -> f32 {
            let t = burn::tensor::Tensor::<B, 1>::from_floats([1.0, 2.0, 3.0], &device);
            t.sum().into_scalar().elem::<f32>()
        }
    }

    #[test]
    fn runs_on_cpu_and_refuses_missing_backends() {
        assert_eq!(run_on(DeviceKind::Cpu, Sum), Ok(6.0));
        for kind in [DeviceKind::Wgpu, DeviceKind::Cuda] {
            if !kind.is_compiled() {
                let err = run_on(kind, Sum).unwrap_err();
                assert!(matches!(err, DeviceError::NotCompiled { .. }));
                assert!(err.to_string().contains("not compiled"), "{err}");
            }
        }
    }
}
