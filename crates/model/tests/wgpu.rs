//! The wgpu backend against the CPU backend on the tiny fixture models (needs `--features wgpu`
//! and a Vulkan/Metal/DX12 device; on a machine without a GPU, Mesa's software Vulkan driver
//! lavapipe works: `apt-get install mesa-vulkan-drivers`). Without an adapter the tests print
//! `SKIPPED` and pass, unless `RFT_REQUIRE_WGPU=1` (set by `.ci/run`, which installs lavapipe).
#![cfg(feature = "wgpu")]

mod gpu;

use burn::backend::Wgpu;
use model::DeviceKind;

#[test]
fn wgpu_logits_equal_cpu_logits() {
    if gpu::available::<Wgpu>(DeviceKind::Wgpu) {
        gpu::logits_equal_cpu_logits::<Wgpu>(DeviceKind::Wgpu);
    }
}

#[test]
fn wgpu_gradients_equal_cpu_gradients() {
    if gpu::available::<Wgpu>(DeviceKind::Wgpu) {
        gpu::gradients_equal_cpu_gradients::<Wgpu>(DeviceKind::Wgpu);
    }
}
