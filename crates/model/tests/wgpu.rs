//! The wgpu backend against the CPU backend on the tiny fixture models (needs `--features wgpu`
//! and a Vulkan/Metal/DX12 device; on a machine without a GPU, Mesa's software Vulkan driver
//! lavapipe works: `apt-get install mesa-vulkan-drivers`). Without an adapter the tests print
//! `SKIPPED` and pass, unless `RFT_REQUIRE_WGPU=1` (set by `.ci/run`, which installs lavapipe).
#![cfg(feature = "wgpu")]

use std::path::PathBuf;

use burn::backend::{Flex, Wgpu};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use model::weights::SafeTensorsFile;
use model::{DeviceKind, GPT2LMHeadModel, SamplingConfig, T5ForConditionalGeneration, generate};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn ints<B: Backend>(cases: &SafeTensorsFile, name: &str, device: &B::Device) -> Tensor<B, 2, Int> {
    cases.int_tensor(name, device).unwrap()
}

/// Whether a wgpu adapter opens; see the module docs for what happens when none does.
fn wgpu_available() -> bool {
    match model::probe::<Wgpu>(DeviceKind::Wgpu, &Default::default()) {
        Ok(()) => true,
        Err(e) if std::env::var("RFT_REQUIRE_WGPU").is_ok_and(|v| v == "1") => {
            panic!("RFT_REQUIRE_WGPU=1 but {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            false
        }
    }
}

#[test]
fn wgpu_logits_equal_cpu_logits() {
    if !wgpu_available() {
        return;
    }
    let gpu = Default::default();
    let cpu = Default::default();

    let cases = SafeTensorsFile::open(fixtures().join("gpt2-tiny-cases.safetensors")).unwrap();
    let on_gpu = GPT2LMHeadModel::<Wgpu>::load(fixtures().join("gpt2-tiny"), &gpu).unwrap();
    let on_cpu = GPT2LMHeadModel::<Flex>::load(fixtures().join("gpt2-tiny"), &cpu).unwrap();
    for tag in ["plain", "padded"] {
        let (ids, mask) = (format!("{tag}.input_ids"), format!("{tag}.attention_mask"));
        let a = values(on_gpu.forward(
            ints(&cases, &ids, &gpu),
            ints(&cases, &mask, &gpu),
            None,
            None,
        ));
        let b = values(on_cpu.forward(
            ints(&cases, &ids, &cpu),
            ints(&cases, &mask, &cpu),
            None,
            None,
        ));
        let diff = max_diff(&a, &b);
        println!("gpt2 {tag}: wgpu vs cpu max |logit diff| = {diff:e}");
        assert!(diff <= 1e-4, "{tag}: {diff}");
    }
    let prompts = vec![vec![3, 17, 99, 4], vec![42]];
    let greedy = SamplingConfig {
        greedy: true,
        max_new_tokens: 8,
        ..Default::default()
    };
    assert_eq!(
        generate(&on_gpu, &prompts, &greedy, &gpu).tokens,
        generate(&on_cpu, &prompts, &greedy, &cpu).tokens
    );

    let cases = SafeTensorsFile::open(fixtures().join("t5-tiny-cases.safetensors")).unwrap();
    let t5_gpu =
        T5ForConditionalGeneration::<Wgpu>::load(fixtures().join("t5-tiny"), &gpu).unwrap();
    let t5_cpu =
        T5ForConditionalGeneration::<Flex>::load(fixtures().join("t5-tiny"), &cpu).unwrap();
    let a = values(t5_gpu.forward(
        ints(&cases, "input_ids", &gpu),
        ints(&cases, "attention_mask", &gpu),
        ints(&cases, "decoder_input_ids", &gpu),
    ));
    let b = values(t5_cpu.forward(
        ints(&cases, "input_ids", &cpu),
        ints(&cases, "attention_mask", &cpu),
        ints(&cases, "decoder_input_ids", &cpu),
    ));
    let diff = max_diff(&a, &b);
    println!("t5: wgpu vs cpu max |logit diff| = {diff:e}");
    assert!(diff <= 1e-4, "t5: {diff}");
}

/// Training works on wgpu: the gradient of the teacher-forced log-likelihood equals the CPU one.
#[test]
fn wgpu_gradients_equal_cpu_gradients() {
    if !wgpu_available() {
        return;
    }
    use burn::backend::Autodiff;
    use model::{CpuBackend, score_tokens};
    fn grad_of_wte<Bk: burn::tensor::backend::AutodiffBackend>(device: &Bk::Device) -> Vec<f32> {
        let cases = SafeTensorsFile::open(fixtures().join("gpt2-tiny-cases.safetensors")).unwrap();
        let m = GPT2LMHeadModel::<Bk>::load(fixtures().join("gpt2-tiny"), device).unwrap();
        let ids = ints(&cases, "padded.input_ids", device);
        let mask = ints(&cases, "padded.attention_mask", device);
        let loss = score_tokens(&m, ids, mask).logprobs.sum();
        let grads = loss.backward();
        values(m.transformer.wte.weight.val().grad(&grads).unwrap())
    }
    let gpu = grad_of_wte::<Autodiff<Wgpu>>(&Default::default());
    let cpu = grad_of_wte::<CpuBackend>(&Default::default());
    let diff = max_diff(&gpu, &cpu);
    println!("gpt2 wte gradient: wgpu vs cpu max |diff| = {diff:e}");
    assert!(diff <= 1e-4, "{diff}");
}
