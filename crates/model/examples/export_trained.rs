//! Trains a tiny GPT-2 and a tiny T5 for a few AdamW steps here, saves both in Hugging Face
//! layout, and writes the logits they give on fixed inputs, so `scripts/check_hf_load.py` can
//! open the checkpoints with `transformers` and compare (`just check-hf`).
//!
//!     cargo run -p model --release --example export_trained -- OUT_DIR

use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use model::weights::TensorWriter;
use model::{
    CpuBackend, GPT2Config, GPT2LMHeadModel, Seq2SeqBatch, T5Config, T5ForConditionalGeneration,
    score_seq2seq, score_tokens,
};
use std::path::PathBuf;

type B = CpuBackend;

fn ids<Bk: Backend>(rows: &[Vec<i64>], device: &Bk::Device) -> Tensor<Bk, 2, Int> {
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), rows[0].len()]), device)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: export_trained OUT_DIR")?,
    );
    let device = Default::default();
    let mut expected = TensorWriter::new();

    // GPT-2: 2 layers, 32 wide, vocab 96; left-padded batch (pad 0, mask 0 on the pad).
    let config = GPT2Config {
        n_layer: 2,
        n_embd: 32,
        n_head: 4,
        vocab_size: 96,
        n_positions: 64,
        bos_token_id: Some(95),
        eos_token_id: Some(95),
        ..Default::default()
    };
    let mut gpt2 = GPT2LMHeadModel::<B>::init(config, 7, &device)?;
    let mut optim = AdamWConfig::new().init();
    let train = ids::<B>(
        &[vec![5, 9, 13, 17, 21, 25], vec![6, 10, 14, 18, 22, 26]],
        &device,
    );
    let ones = Tensor::<B, 2, Int>::ones([2, 6], &device);
    for _ in 0..5 {
        let loss = score_tokens(&gpt2, train.clone(), ones.clone())
            .logprobs
            .mean()
            .neg();
        let grads = GradientsParams::from_grads(loss.backward(), &gpt2);
        gpt2 = optim.step(1e-2, gpt2, grads);
    }
    gpt2.save(out.join("gpt2"))?;
    let input = vec![vec![0, 0, 3, 4, 5], vec![7, 8, 9, 10, 11]];
    let mask = vec![vec![0, 0, 1, 1, 1], vec![1, 1, 1, 1, 1]];
    let inner = gpt2.valid();
    let logits = inner.forward(ids(&input, &device), ids(&mask, &device), None, None);
    expected.add("gpt2.input_ids", ids::<B>(&input, &device).float());
    expected.add("gpt2.attention_mask", ids::<B>(&mask, &device).float());
    expected.add("gpt2.logits", logits);

    // T5: 2+2 layers, d_model 32, vocab 80; right-padded encoder batch.
    let config = T5Config {
        vocab_size: 80,
        d_model: 32,
        d_kv: 8,
        d_ff: 64,
        num_layers: 2,
        num_heads: 4,
        relative_attention_num_buckets: 8,
        relative_attention_max_distance: 16,
        ..Default::default()
    };
    let mut t5 = T5ForConditionalGeneration::<B>::init(config, 8, &device)?;
    let mut optim = AdamWConfig::new().init();
    let batch = Seq2SeqBatch::<B>::new(
        &[vec![4, 5, 6, 1], vec![7, 8, 1]],
        &[vec![6, 5, 4, 1], vec![8, 7, 1]],
        0,
        0,
        &device,
    );
    for _ in 0..5 {
        let loss = score_seq2seq(&t5, &batch).sequence_logprobs.mean().neg();
        let grads = GradientsParams::from_grads(loss.backward(), &t5);
        t5 = optim.step(1e-2, t5, grads);
    }
    t5.save(out.join("t5"))?;
    let src = vec![vec![4, 5, 6, 1], vec![9, 1, 0, 0]];
    let src_mask = vec![vec![1, 1, 1, 1], vec![1, 1, 0, 0]];
    let dec = vec![vec![0, 6, 5], vec![0, 9, 3]];
    let inner = t5.valid();
    let logits = inner.forward(
        ids(&src, &device),
        ids(&src_mask, &device),
        ids(&dec, &device),
    );
    expected.add("t5.input_ids", ids::<B>(&src, &device).float());
    expected.add("t5.attention_mask", ids::<B>(&src_mask, &device).float());
    expected.add("t5.decoder_input_ids", ids::<B>(&dec, &device).float());
    expected.add("t5.logits", logits);

    expected.write(out.join("expected.safetensors"))?;
    println!("wrote {}/{{gpt2,t5,expected.safetensors}}", out.display());
    Ok(())
}
