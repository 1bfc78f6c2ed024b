//! Speed of the `model` crate on the CPU backend, side by side with `scripts/bench_torch.py`
//! (PyTorch eager + `transformers`, same shapes, 2 threads). Shapes are in [`Shapes`]; both sides
//! must agree, so change them in both files together.
//!
//!   RAYON_NUM_THREADS=2 cargo bench -p model --bench model
//!   python3 scripts/bench_torch.py
//!
//! * `gpt2_train_step`: forward, backward and AdamW on GPT-2 (6 layers, 384 wide, 6 heads,
//!   vocab 8192), batch 16 x 128 tokens, loss = mean next-token cross-entropy.
//! * `gpt2_sample`: 16 left-padded prompts (8..=16 tokens) x 48 new tokens, KV cache,
//!   temperature 1; reported as time per call (tokens/s = 768 / time).
//! * `t5_train_step` and `t5_sample`: the same for T5-small shapes (d_model 512, 6+6 layers,
//!   8 heads, d_ff 2048, vocab 32128), batch 16, source 64 tokens, target 32 tokens.
//! * `grue_mini/gpt2_train_step` and `grue_mini/t5_train_step`: the models that the GRUE
//!   experiments train in their default profile (`experiments/pretrain.yaml`: `gpt2-mini`, 4 layers, 256 wide, 4 heads;
//!   `t5-mini`, d_model 256, d_kv 64, d_ff 1024, 4+4 layers, 4 heads; vocab 8192 (+100 sentinels
//!   for T5)) at the PPO minibatch size of `experiments/grue.yaml` (`alg.args.batch_size: 64`):
//!   64 sequences of 64 tokens (GPT-2), 64 sources of 32 and targets of 24 tokens (T5).
//! * With `--features cuda`: `cuda_gpt2_124m/*`, the GPT-2 benchmarks with GPT-2 124M's shapes
//!   (12 layers, 768 wide, vocab 50257) on the CUDA backend (`scripts/gpu-check.sh bench`).

use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use model::{
    CpuBackend, GPT2Config, GPT2LMHeadModel, SamplingConfig, Seq2SeqBatch, T5Config,
    T5ForConditionalGeneration, generate, generate_seq2seq, seq2seq_logprobs, token_logprobs,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

type B = CpuBackend;
type Inner = <B as AutodiffBackend>::InnerBackend;

struct Shapes;
impl Shapes {
    const BATCH: usize = 16;
    const GPT2_SEQ: usize = 128;
    const NEW_TOKENS: usize = 48;
    const T5_SRC: usize = 64;
    const T5_TGT: usize = 32;
    const GRUE_BATCH: usize = 64;
    const GRUE_GPT2_SEQ: usize = 64;
    const GRUE_T5_SRC: usize = 32;
    const GRUE_T5_TGT: usize = 24;
}

fn gpt2_config() -> GPT2Config {
    GPT2Config {
        n_layer: 6,
        n_embd: 384,
        n_head: 6,
        vocab_size: 8192,
        n_positions: 256,
        ..Default::default()
    }
}

fn t5_small() -> T5Config {
    T5Config::default() // t5-small: d_model 512, d_kv 64, d_ff 2048, 6+6 layers, 8 heads, vocab 32128
}

fn random_ids(rng: &mut ChaCha8Rng, rows: usize, len: usize, vocab: usize) -> Vec<Vec<u32>> {
    (0..rows)
        .map(|_| {
            (0..len)
                .map(|_| rng.random_range(2..vocab as u32))
                .collect()
        })
        .collect()
}

fn ids_tensor<Bk: Backend>(rows: &[Vec<u32>], device: &Bk::Device) -> Tensor<Bk, 2, Int> {
    let flat: Vec<i64> = rows.iter().flatten().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), rows[0].len()]), device)
}

fn sampling() -> SamplingConfig {
    SamplingConfig {
        max_new_tokens: Shapes::NEW_TOKENS,
        min_new_tokens: Shapes::NEW_TOKENS,
        temperature: 1.0,
        seed: 0,
        ..Default::default()
    }
}

/// Whether a command-line filter selects benchmarks of `group` (criterion would skip them, but
/// the group would still build its model, which would count in the peak memory printed).
fn selected(group: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--") && a.parse::<f64>().is_err())
        .collect();
    filters.is_empty()
        || filters
            .iter()
            .any(|f| group.contains(f.as_str()) || f.starts_with(group))
}

/// Prints the process's peak resident memory so far (`getrusage`), after a benchmark.
fn print_peak_rss(after: &str) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: getrusage fills the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            eprintln!(
                "peak RSS after {after}: {:.0} MiB",
                usage.ru_maxrss as f64 / 1024.0
            );
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = after;
}

fn gpt2(c: &mut Criterion) {
    if !selected("gpt2") {
        return;
    }
    // As the runner does at start (`model::tune_allocator`); idempotent.
    model::tune_allocator();
    bench_gpt2::<B>(c, "gpt2", gpt2_config(), &Default::default());
}

/// GPT-2 124M's shapes on the CUDA backend.
#[cfg(feature = "cuda")]
fn gpt2_124m_cuda(c: &mut Criterion) {
    let device = Default::default();
    if let Err(e) = model::probe::<model::backend::CudaBackend>(model::DeviceKind::Cuda, &device) {
        eprintln!("SKIPPED cuda_gpt2_124m: {e}");
        return;
    }
    bench_gpt2::<model::backend::CudaBackend>(c, "cuda_gpt2_124m", GPT2Config::default(), &device);
}

/// Waits for the device to finish queued work (GPU backends run asynchronously): reads one value.
fn sync<Bk: Backend>(t: Tensor<Bk, 2>) {
    let _ = t.slice([0..1, 0..1]).into_data();
}

fn bench_gpt2<Bk: AutodiffBackend>(
    c: &mut Criterion,
    name: &str,
    config: GPT2Config,
    device: &Bk::Device,
) {
    let vocab = config.vocab_size;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);

    let mut model = GPT2LMHeadModel::<Bk>::init(config, 0, device).unwrap();
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let ids = ids_tensor::<Bk>(
        &random_ids(&mut rng, Shapes::BATCH, Shapes::GPT2_SEQ, vocab),
        device,
    );
    let mask = Tensor::<Bk, 2, Int>::ones([Shapes::BATCH, Shapes::GPT2_SEQ], device);
    group.bench_function("train_step", |b| {
        b.iter(|| {
            let loss = token_logprobs(&model, ids.clone(), mask.clone())
                .mean()
                .neg();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-4, model.clone(), grads);
            sync(model.transformer.wte.weight.val());
        })
    });
    print_peak_rss(&format!("{name}/train_step"));

    let inference: GPT2LMHeadModel<Bk::InnerBackend> = model.valid();
    let prompts: Vec<Vec<u32>> = (0..Shapes::BATCH)
        .map(|i| random_ids(&mut rng, 1, 8 + i % 9, vocab).remove(0))
        .collect();
    group.bench_function("sample_16x48", |b| {
        b.iter(|| generate(&inference, &prompts, &sampling(), device))
    });
    group.finish();
}

fn t5(c: &mut Criterion) {
    if !selected("t5_small") {
        return;
    }
    model::tune_allocator();
    let device = Default::default();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut group = c.benchmark_group("t5_small");
    group.sample_size(10);

    let mut model = T5ForConditionalGeneration::<B>::init(t5_small(), 0, &device).unwrap();
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let sources = random_ids(&mut rng, Shapes::BATCH, Shapes::T5_SRC, 32100);
    let targets = random_ids(&mut rng, Shapes::BATCH, Shapes::T5_TGT, 32100);
    let batch = Seq2SeqBatch::<B>::new(&sources, &targets, 0, 0, &device);
    group.bench_function("train_step", |b| {
        b.iter(|| {
            let loss = seq2seq_logprobs(&model, &batch).mean().neg();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-4, model.clone(), grads);
        })
    });
    print_peak_rss("t5_small/train_step");

    let inference: T5ForConditionalGeneration<Inner> = model.valid();
    group.bench_function("sample_16x48", |b| {
        b.iter(|| generate_seq2seq(&inference, &sources, &sampling(), &device))
    });
    group.finish();
}

/// The GRUE default profile's models at its PPO minibatch size.
fn grue_mini(c: &mut Criterion) {
    if !selected("grue_mini") {
        return;
    }
    model::tune_allocator();
    let device = Default::default();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut group = c.benchmark_group("grue_mini");
    group.sample_size(10);

    let config = GPT2Config {
        n_layer: 4,
        n_embd: 256,
        n_head: 4,
        vocab_size: 8192,
        n_positions: 256,
        ..Default::default()
    };
    let mut gpt2 = GPT2LMHeadModel::<B>::init(config, 0, &device).unwrap();
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let ids = ids_tensor::<B>(
        &random_ids(&mut rng, Shapes::GRUE_BATCH, Shapes::GRUE_GPT2_SEQ, 8192),
        &device,
    );
    let mask = Tensor::<B, 2, Int>::ones([Shapes::GRUE_BATCH, Shapes::GRUE_GPT2_SEQ], &device);
    group.bench_function("gpt2_train_step", |b| {
        b.iter(|| {
            let loss = token_logprobs(&gpt2, ids.clone(), mask.clone())
                .mean()
                .neg();
            let grads = GradientsParams::from_grads(loss.backward(), &gpt2);
            gpt2 = optim.step(1e-4, gpt2.clone(), grads);
        })
    });
    print_peak_rss("grue_mini/gpt2_train_step");

    let config = T5Config {
        vocab_size: 8292,
        d_model: 256,
        d_kv: 64,
        d_ff: 1024,
        num_layers: 4,
        num_heads: 4,
        ..Default::default()
    };
    let mut t5 = T5ForConditionalGeneration::<B>::init(config, 0, &device).unwrap();
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let sources = random_ids(&mut rng, Shapes::GRUE_BATCH, Shapes::GRUE_T5_SRC, 8192);
    let targets = random_ids(&mut rng, Shapes::GRUE_BATCH, Shapes::GRUE_T5_TGT, 8192);
    let batch = Seq2SeqBatch::<B>::new(&sources, &targets, 0, 0, &device);
    group.bench_function("t5_train_step", |b| {
        b.iter(|| {
            let loss = seq2seq_logprobs(&t5, &batch).mean().neg();
            let grads = GradientsParams::from_grads(loss.backward(), &t5);
            t5 = optim.step(1e-4, t5.clone(), grads);
        })
    });
    print_peak_rss("grue_mini/gpt2_train_step + grue_mini/t5_train_step");
    group.finish();
}

#[cfg(not(feature = "cuda"))]
criterion_group!(benches, gpt2, t5, grue_mini);
#[cfg(feature = "cuda")]
criterion_group!(benches, gpt2, t5, grue_mini, gpt2_124m_cuda);
criterion_main!(benches);
