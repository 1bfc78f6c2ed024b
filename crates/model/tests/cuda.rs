//! The CUDA backend against the CPU backend on the tiny fixture models (needs `--features cuda`
//! and an NVIDIA GPU with its driver). Without one the tests print `SKIPPED` and pass, unless
//! `RFT_REQUIRE_CUDA=1`. Run on a GPU machine with
//! `RFT_REQUIRE_CUDA=1 cargo test -p model --features cuda --test cuda -- --nocapture`.
#![cfg(feature = "cuda")]

mod gpu;

use burn::backend::Cuda;
use model::DeviceKind;

#[test]
fn cuda_logits_equal_cpu_logits() {
    if gpu::available::<Cuda>(DeviceKind::Cuda) {
        gpu::logits_equal_cpu_logits::<Cuda>(DeviceKind::Cuda);
    }
}

#[test]
fn cuda_gradients_equal_cpu_gradients() {
    if gpu::available::<Cuda>(DeviceKind::Cuda) {
        gpu::gradients_equal_cpu_gradients::<Cuda>(DeviceKind::Cuda);
    }
}
