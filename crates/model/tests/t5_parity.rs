//! T5 against Hugging Face `transformers` on the tiny random model of `scripts/make_model_fixtures.py`.

use std::path::PathBuf;

use burn::backend::Flex;
use burn::tensor::{Int, Tensor};
use model::weights::SafeTensorsFile;
use model::{
    CpuBackend, SamplingConfig, Seq2SeqBatch, T5ForConditionalGeneration, generate_seq2seq,
    score_seq2seq,
};

type B = Flex;
type Ids = Tensor<B, 2, Int>;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn inputs() -> (SafeTensorsFile, Ids, Ids, Ids) {
    let device = Default::default();
    let cases = SafeTensorsFile::open(fixtures().join("t5-tiny-cases.safetensors")).unwrap();
    let ids = cases.int_tensor("input_ids", &device).unwrap();
    let mask = cases.int_tensor("attention_mask", &device).unwrap();
    let dec = cases.int_tensor("decoder_input_ids", &device).unwrap();
    (cases, ids, mask, dec)
}

/// The real (unpadded) rows of a right-padded batch.
fn sources(ids: &Ids, mask: &Ids) -> Vec<Vec<u32>> {
    let [batch, src] = ids.dims();
    let ids: Vec<i64> = ids.clone().into_data().iter::<i64>().collect();
    let mask: Vec<i64> = mask.clone().into_data().iter::<i64>().collect();
    (0..batch)
        .map(|b| {
            (0..src)
                .filter(|&i| mask[b * src + i] == 1)
                .map(|i| ids[b * src + i] as u32)
                .collect()
        })
        .collect()
}

fn floats(cases: &SafeTensorsFile, name: &str) -> Vec<f32> {
    let shape = cases.shape(name).unwrap();
    cases.f32_values(name, &shape).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn t5_logits_match_hf_with_padded_encoder_inputs() {
    let model =
        T5ForConditionalGeneration::<B>::load(fixtures().join("t5-tiny"), &Default::default())
            .unwrap();
    let (cases, ids, mask, dec) = inputs();
    let ours: Vec<f32> = model
        .forward(ids, mask, dec)
        .into_data()
        .iter::<f32>()
        .collect();
    let shape = cases.shape("logits").unwrap();
    let expected = cases.f32_values("logits", &shape).unwrap();
    let diff = ours
        .iter()
        .zip(&expected)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    println!("t5: max |logit diff| = {diff:e}");
    assert_eq!(ours.len(), expected.len());
    assert!(diff <= 1e-4, "{diff}");
}

#[test]
fn t5_greedy_tokens_match_hf() {
    let model =
        T5ForConditionalGeneration::<B>::load(fixtures().join("t5-tiny"), &Default::default())
            .unwrap();
    let (cases, ids, mask, _) = inputs();
    let (shape, expected) = cases.i64_values("greedy").unwrap();
    for use_cache in [true, false] {
        let config = SamplingConfig {
            greedy: true,
            max_new_tokens: shape[1],
            use_cache,
            ..Default::default()
        };
        let ours = generate_seq2seq(&model, &sources(&ids, &mask), &config, &Default::default());
        let ours: Vec<i64> = ours.tokens.iter().flatten().map(|&t| t as i64).collect();
        assert_eq!(ours, expected, "use_cache={use_cache}");
    }
}

#[test]
fn t5_save_then_load_round_trips() {
    let device = Default::default();
    let model = T5ForConditionalGeneration::<B>::load(fixtures().join("t5-tiny"), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let original = SafeTensorsFile::open(fixtures().join("t5-tiny/model.safetensors")).unwrap();
    let saved = SafeTensorsFile::open(dir.path().join("model.safetensors")).unwrap();
    let (mut a, mut b) = (original.names(), saved.names());
    a.sort();
    b.sort();
    assert_eq!(a, b);
    for name in &a {
        let shape = original.shape(name).unwrap();
        assert_eq!(
            original.f32_values(name, &shape).unwrap(),
            saved.f32_values(name, &shape).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn t5_cached_decoding_equals_full_decode() {
    let device = Default::default();
    let model = T5ForConditionalGeneration::<B>::load(fixtures().join("t5-tiny"), &device).unwrap();
    let (_, ids, mask, dec) = inputs();
    let states = model.encode(ids, mask.clone());
    let full: Vec<f32> = model
        .decode(dec.clone(), states.clone(), mask.clone())
        .into_data()
        .iter::<f32>()
        .collect();
    // Feed the 6 decoder tokens as 1 + 1 + 2 + 2 with the cache.
    let mut cache = model.new_cache(states, mask);
    let mut pieces = Vec::new();
    for (from, to) in [(0, 1), (1, 2), (2, 4), (4, 6)] {
        pieces.push(model.decode_cached(dec.clone().narrow(1, from, to - from), &mut cache));
        assert_eq!(cache.len(), to);
    }
    let cached: Vec<f32> = Tensor::cat(pieces, 1).into_data().iter::<f32>().collect();
    let diff = max_abs_diff(&full, &cached);
    // Logits reach ~12 here; 1e-5 is float reassociation (softmax over a different key count).
    println!("t5 cached vs full decode: max |logit diff| = {diff:e}");
    assert!(diff <= 1e-4, "{diff}");
}

/// Per-token log-probs, entropies, the summed log-likelihood and its gradient against HF with
/// `labels` (right-padded targets of lengths 5 and 3) and a right-padded encoder batch.
#[test]
fn t5_teacher_forced_scores_and_gradients_match_hf() {
    let device = Default::default();
    let model: T5ForConditionalGeneration<CpuBackend> =
        T5ForConditionalGeneration::load(fixtures().join("t5-tiny"), &device).unwrap();
    let (cases, ids, mask, _) = inputs();
    let srcs = sources(&ids, &mask);
    let targets = sources(
        &cases
            .int_tensor("score.targets", &Default::default())
            .unwrap(),
        &cases
            .int_tensor("score.target_mask", &Default::default())
            .unwrap(),
    );
    assert_eq!(targets.iter().map(Vec::len).collect::<Vec<_>>(), [5, 3]);
    let batch = Seq2SeqBatch::<CpuBackend>::new(&srcs, &targets, 0, 0, &device);
    let scores = score_seq2seq(&model, &batch);
    let logprobs: Vec<f32> = scores
        .token_logprobs
        .clone()
        .into_data()
        .iter::<f32>()
        .collect();
    let entropies: Vec<f32> = scores
        .token_entropies
        .clone()
        .into_data()
        .iter::<f32>()
        .collect();
    let d_lp = max_abs_diff(&logprobs, &floats(&cases, "score.logprobs"));
    let d_ent = max_abs_diff(&entropies, &floats(&cases, "score.entropies"));
    println!("t5 scoring: max |log-prob diff| = {d_lp:e}, max |entropy diff| = {d_ent:e}");
    assert!(d_lp <= 1e-4 && d_ent <= 1e-4, "{d_lp} {d_ent}");
    // Padding targets score exactly zero.
    assert_eq!(logprobs[5 + 3..].to_vec(), [0.0, 0.0]);

    let loglik = scores.sequence_logprobs.sum();
    let value: f32 = loglik.clone().into_scalar();
    let expected = floats(&cases, "score.loglik")[0];
    assert!((value - expected).abs() <= 1e-3, "{value} vs {expected}");

    let grads = loglik.backward();
    let dec1 = &model.decoder.block[1];
    let checks = [
        ("shared", model.shared.val().grad(&grads)),
        (
            "enc_rel_bias",
            model.encoder.block[0]
                .self_attention
                .relative_attention_bias
                .as_ref()
                .unwrap()
                .val()
                .grad(&grads),
        ),
        (
            "dec1_cross_k",
            dec1.cross_attention
                .as_ref()
                .unwrap()
                .k
                .weight
                .val()
                .grad(&grads),
        ),
    ];
    for (name, grad) in checks {
        let ours: Vec<f32> = grad
            .expect("has a gradient")
            .into_data()
            .iter::<f32>()
            .collect();
        let expected = floats(&cases, &format!("score.grad.{name}"));
        let scale = expected.iter().fold(0f32, |m, x| m.max(x.abs()));
        let diff = max_abs_diff(&ours, &expected);
        println!("t5 grad {name}: max |diff| = {diff:e} (max |grad| = {scale:e})");
        assert!(diff <= 1e-4 * scale.max(1.0), "grad {name}: {diff}");
    }
}

#[test]
fn seq2seq_batch_shifts_targets_behind_the_start_token() {
    let device = Default::default();
    let batch = Seq2SeqBatch::<B>::new(
        &[vec![5, 6, 7], vec![8]],
        &[vec![9, 10], vec![11]],
        0,
        3,
        &device,
    );
    let ints = |t: Tensor<B, 2, Int>| t.into_data().iter::<i64>().collect::<Vec<_>>();
    assert_eq!(ints(batch.input_ids), [5, 6, 7, 8, 0, 0]);
    assert_eq!(ints(batch.attention_mask), [1, 1, 1, 1, 0, 0]);
    assert_eq!(ints(batch.decoder_input_ids), [3, 9, 3, 11]);
    assert_eq!(ints(batch.labels), [9, 10, 11, 0]);
    let mask: Vec<f32> = batch.target_mask.into_data().iter::<f32>().collect();
    assert_eq!(mask, [1.0, 1.0, 1.0, 0.0]);
}

/// Random init follows HF's `_init_weights` (std per tensor kind) and saves the same tensor names
/// as an HF checkpoint of that config.
#[test]
fn t5_init_has_hf_scales_and_names() {
    let device = Default::default();
    let fixture: model::T5Config =
        model::weights::read_json(fixtures().join("t5-tiny/config.json")).unwrap();
    let config = model::T5Config {
        d_model: 64,
        d_kv: 16,
        d_ff: 256,
        initializer_factor: 1.5,
        ..fixture
    };
    let m = T5ForConditionalGeneration::<B>::init(config.clone(), 5, &device).unwrap();
    let std = |t: Tensor<B, 2>| {
        let v: Vec<f32> = t.into_data().iter::<f32>().collect();
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32).sqrt()
    };
    let f = 1.5f32;
    let block = &m.encoder.block[0];
    let checks = [
        ("shared", std(m.shared.val()), f),
        (
            "q",
            std(block.self_attention.q.weight.val()),
            f * (64.0f32 * 16.0).powf(-0.5),
        ),
        (
            "k",
            std(block.self_attention.k.weight.val()),
            f * 64f32.powf(-0.5),
        ),
        (
            "o",
            std(block.self_attention.o.weight.val()),
            f * 64f32.powf(-0.5),
        ),
        ("wi", std(block.ff.wi.weight.val()), f * 64f32.powf(-0.5)),
        ("wo", std(block.ff.wo.weight.val()), f * 256f32.powf(-0.5)),
    ];
    for (name, got, want) in checks {
        assert!(
            (got / want - 1.0).abs() < 0.1,
            "{name}: std {got} vs {want}"
        );
    }
    let norm: Vec<f32> = block
        .ff_norm
        .weight
        .val()
        .into_data()
        .iter::<f32>()
        .collect();
    assert!(norm.iter().all(|&x| x == 1.5));

    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path()).unwrap();
    let mut ours = SafeTensorsFile::open(dir.path().join("model.safetensors"))
        .unwrap()
        .names();
    let mut hf = SafeTensorsFile::open(fixtures().join("t5-tiny/model.safetensors"))
        .unwrap()
        .names();
    ours.sort();
    hf.sort();
    assert_eq!(ours, hf);
    let reloaded = T5ForConditionalGeneration::<B>::load(dir.path(), &device).unwrap();
    assert_eq!(reloaded.config.initializer_factor, 1.5);
}
