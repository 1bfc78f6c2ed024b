//! A wgpu build on a machine without any adapter: `run_on(Wgpu, ..)` is a clear error naming the
//! fix, not a panic. The adapter is hidden by pointing the Vulkan loader at no driver, in this
//! test's own process (needs `--features wgpu`).
#![cfg(feature = "wgpu")]

use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use model::{BackendTask, DeviceError, DeviceKind, run_on};

struct Sum;
impl BackendTask for Sum {
    type Output = f32;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> f32 {
        Tensor::<B, 1>::from_floats([1.0, 2.0], &device)
            .sum()
            .into_data()
            .iter::<f32>()
            .next()
            .unwrap()
    }
}

#[test]
fn no_adapter_is_a_clear_error() {
    // SAFETY: set before any thread of this process touches wgpu or reads the environment.
    unsafe {
        std::env::set_var("VK_ICD_FILENAMES", "/nonexistent/no-driver.json");
        std::env::set_var("VK_DRIVER_FILES", "/nonexistent/no-driver.json");
        std::env::set_var("WGPU_BACKEND", "vulkan");
    }
    match run_on(DeviceKind::Wgpu, Sum) {
        Err(err @ DeviceError::NoDevice { .. }) => {
            let text = err.to_string();
            println!("{text}");
            assert!(text.contains("mesa-vulkan-drivers"), "{text}");
        }
        // Some platforms expose a non-Vulkan adapter (Metal, DX12): then the sum just works.
        Ok(v) => assert_eq!(v, 3.0),
        Err(other) => panic!("unexpected error: {other}"),
    }
}
