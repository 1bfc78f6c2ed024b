//! Backends and the runtime device choice.
//!
//! burn picks a backend at compile time (a type parameter), while our configs pick a device at run
//! time (`device: cpu|wgpu|cuda`). [`run_on`] bridges the two: the caller writes its work once as a
//! [`BackendTask`], generic over any autodiff backend, and `run_on` instantiates it for the backend
//! the runtime choice names, or fails with [`DeviceError::NotCompiled`] when that backend was not
//! compiled in (features `wgpu`, `cuda`), or with [`DeviceError::NoDevice`] when it was compiled in
//! but the machine has no such device (no Vulkan/Metal adapter, no CUDA driver or GPU).

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
    #[error("device `{asked}` is compiled in but could not be opened: {reason}. {hint}")]
    NoDevice {
        asked: DeviceKind,
        reason: String,
        hint: &'static str,
    },
}

/// What to do when a compiled-in backend finds no device.
fn no_device_hint(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Cpu => "",
        DeviceKind::Wgpu => {
            "Install a Vulkan driver (without a GPU: Debian's `mesa-vulkan-drivers`, the software \
             driver lavapipe) or use device: cpu"
        }
        DeviceKind::Cuda => {
            "Run on a machine with an NVIDIA GPU and its driver (libcuda), or use device: cpu"
        }
    }
}

/// Opens the device of backend `B` with one tiny operation, turning burn's panic when there is no
/// adapter or driver into [`DeviceError::NoDevice`]. The default panic message is silenced while
/// probing, so the user sees one clear error instead of a backtrace.
pub fn probe<B: burn::tensor::backend::Backend>(
    kind: DeviceKind,
    device: &B::Device,
) -> Result<(), DeviceError> {
    open_or_explain(kind, || {
        let t = burn::tensor::Tensor::<B, 1>::from_floats([1.0, 2.0], device);
        t.sum().into_data().iter::<f32>().next()
    })
}

/// Runs `test_sum` (which should compute 1 + 2 on the device) with panics caught and the panic
/// message silenced; a panic or a wrong sum becomes [`DeviceError::NoDevice`].
fn open_or_explain(
    kind: DeviceKind,
    test_sum: impl FnOnce() -> Option<f32>,
) -> Result<(), DeviceError> {
    use std::panic;
    use std::sync::{Arc, Mutex};
    static HOOK_LOCK: Mutex<()> = Mutex::new(());
    let _guard = HOOK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // The first panic message, from whichever thread: burn's runtimes open the device on a
    // worker thread, so the caller only sees a closed channel while the cause is over there.
    let first: Arc<Mutex<Option<String>>> = Arc::default();
    let hook = panic::take_hook();
    let record = Arc::clone(&first);
    panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
        let mut first = record.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = text;
        }
    }));
    let result = panic::catch_unwind(panic::AssertUnwindSafe(test_sum));
    panic::set_hook(hook);
    let reason = match result {
        Ok(Some(3.0)) => return Ok(()),
        Ok(other) => format!("a test sum 1 + 2 gave {other:?}"),
        Err(_) => first
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| "the backend panicked while opening it".into()),
    };
    Err(DeviceError::NoDevice {
        asked: kind,
        reason: reason.lines().next().unwrap_or_default().to_string(),
        hint: no_device_hint(kind),
    })
}

/// Work written once over any autodiff backend; [`run_on`] picks the backend at run time.
pub trait BackendTask {
    type Output;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output;
}

/// Runs `task` on the backend `kind` names, on that backend's default device, after checking that
/// the backend is compiled in and its device opens ([`probe`]).
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
        DeviceKind::Wgpu => {
            let device = burn::backend::wgpu::WgpuDevice::default();
            probe::<WgpuBackend>(kind, &device)?;
            Ok(task.run::<WgpuBackend>(device))
        }
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => {
            let device = burn::backend::cuda::CudaDevice::default();
            probe::<CudaBackend>(kind, &device)?;
            Ok(task.run::<CudaBackend>(device))
        }
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

    /// A backend whose device fails to open: the panic becomes `NoDevice` with the panic's text
    /// and the fix.
    #[test]
    fn probe_turns_a_panicking_device_into_an_error() {
        assert_eq!(
            probe::<CpuBackend>(DeviceKind::Cpu, &CpuDevice::default()),
            Ok(())
        );
        let err = open_or_explain(DeviceKind::Wgpu, || {
            panic!("No possible adapter available for backend.\nmore lines")
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("No possible adapter available"), "{text}");
        assert!(!text.contains("more lines"), "{text}");
        assert!(text.contains("mesa-vulkan-drivers"), "{text}");
        let err = open_or_explain(DeviceKind::Cuda, || Some(f32::NAN)).unwrap_err();
        assert!(err.to_string().contains("NVIDIA"), "{err}");
    }
}
