//! A GPU backend against the CPU backend on the tiny fixture models (the HF parity fixtures):
//! logits, greedy tokens and gradients must agree. Shared by `tests/wgpu.rs` and `tests/cuda.rs`,
//! which pick the backend; each skips (prints `SKIPPED`) when its device does not open, unless
//! `RFT_REQUIRE_<KIND>=1` makes that a failure.

use std::path::PathBuf;

use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use model::weights::SafeTensorsFile;
use model::{
    CpuBackend, DeviceKind, GPT2LMHeadModel, SamplingConfig, T5ForConditionalGeneration, generate,
    score_tokens,
};

/// The bar of the HF parity tests.
const TOLERANCE: f32 = 1e-4;

/// The fixtures directory; `RFT_MODEL_FIXTURES` overrides the compiled-in path, for a test binary
/// built here and run on another machine (`scripts/gpu-check.sh`).
fn fixtures() -> PathBuf {
    std::env::var_os("RFT_MODEL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
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

/// Whether backend `G`'s default device opens; see the module docs for what happens when not.
pub fn available<G: Backend>(kind: DeviceKind) -> bool {
    let var = format!("RFT_REQUIRE_{}", kind.name().to_uppercase());
    match model::probe::<G>(kind, &Default::default()) {
        Ok(()) => true,
        Err(e) if std::env::var(&var).is_ok_and(|v| v == "1") => panic!("{var}=1 but {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            false
        }
    }
}

/// GPT-2 logits (plain and left-padded batches), greedy continuations, and T5 logits on `G`
/// equal the CPU's.
pub fn logits_equal_cpu_logits<G: Backend>(kind: DeviceKind) {
    let gpu = Default::default();
    let cpu = Default::default();

    let cases = SafeTensorsFile::open(fixtures().join("gpt2-tiny-cases.safetensors")).unwrap();
    let on_gpu = GPT2LMHeadModel::<G>::load(fixtures().join("gpt2-tiny"), &gpu).unwrap();
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
        println!("gpt2 {tag}: {kind} vs cpu max |logit diff| = {diff:e}");
        assert!(diff <= TOLERANCE, "{tag}: {diff}");
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
    let t5_gpu = T5ForConditionalGeneration::<G>::load(fixtures().join("t5-tiny"), &gpu).unwrap();
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
    println!("t5: {kind} vs cpu max |logit diff| = {diff:e}");
    assert!(diff <= TOLERANCE, "t5: {diff}");
}

fn grad_of_wte<Bk: AutodiffBackend>(device: &Bk::Device) -> Vec<f32> {
    let cases = SafeTensorsFile::open(fixtures().join("gpt2-tiny-cases.safetensors")).unwrap();
    let m = GPT2LMHeadModel::<Bk>::load(fixtures().join("gpt2-tiny"), device).unwrap();
    let ids = ints(&cases, "padded.input_ids", device);
    let mask = ints(&cases, "padded.attention_mask", device);
    let loss = score_tokens(&m, ids, mask).logprobs.sum();
    let grads = loss.backward();
    values(m.transformer.wte.weight.val().grad(&grads).unwrap())
}

/// Training works on `G`: the gradient of the teacher-forced log-likelihood equals the CPU one.
pub fn gradients_equal_cpu_gradients<G: Backend>(kind: DeviceKind) {
    let gpu = grad_of_wte::<Autodiff<G>>(&Default::default());
    let cpu = grad_of_wte::<CpuBackend>(&Default::default());
    let diff = max_diff(&gpu, &cpu);
    println!("gpt2 wte gradient: {kind} vs cpu max |diff| = {diff:e}");
    assert!(diff <= TOLERANCE, "{diff}");
}
