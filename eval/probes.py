"""Hand-written questions for probing abstention on the demo corpus (``corpus/``).

``IN_DOMAIN`` questions are answered by the corpus notes; ``UNCOVERED_ML``
questions are about machine learning but name topics no note covers (checked
with grep when written); ``OFF_TOPIC`` questions have nothing to do with it.
"""

from __future__ import annotations

IN_DOMAIN = (
    "Why does scaled dot-product attention divide by the square root of d_k?",
    "What is the difference between Adam and AdamW?",
    "How does LoRA reduce the number of trainable parameters?",
    "What does QLoRA quantize?",
    "How does byte pair encoding build its vocabulary?",
    "What is nucleus sampling?",
    "What does the temperature do when sampling from a language model?",
    "How does PagedAttention manage the KV cache?",
    "What is the GGUF format used for?",
    "How does reciprocal rank fusion combine rankings?",
    "What is the reward model in RLHF trained on?",
    "How does DPO differ from PPO?",
    "Why do LSTMs help with vanishing gradients?",
    "What is masked language modelling in BERT?",
    "How does HNSW search for nearest neighbours?",
    "What is rotary positional encoding?",
    "What does dropout do during training?",
    "How is cross-entropy related to KL divergence?",
    "What does the chain rule have to do with backpropagation?",
    "What is learning-rate warmup?",
)

UNCOVERED_ML = (
    "How does a random forest decide a split?",
    "What is the kernel trick in support vector machines?",
    "How does a generative adversarial network train its discriminator?",
    "How do diffusion models remove noise from an image?",
    "What is gradient boosting, as in XGBoost?",
    "How does Q-learning update its value estimates?",
    "What does t-SNE show in a plot?",
    "How is the Gini impurity of a decision tree computed?",
    "What is a variational autoencoder?",
    "How does federated learning keep data on devices?",
)

OFF_TOPIC = (
    "Who won the 2018 FIFA World Cup?",
    "How long should I boil an egg for a runny yolk?",
    "What is the capital of Australia?",
    "How many players are on a basketball team on court?",
    "What is the best way to season a cast-iron pan?",
    "Which river flows through Budapest?",
    "When did the Roman Empire fall?",
    "How do I change a flat bicycle tyre?",
    "What is the tallest mountain in Africa?",
    "Who painted the Mona Lisa?",
    "How do you make sourdough starter?",
    "What are the rules of cricket's lbw law?",
    "Which planet has the most moons?",
    "How should tomato plants be pruned?",
    "What currency is used in Japan?",
    "Who wrote Pride and Prejudice?",
    "How many minutes are in a rugby union match?",
    "What is a good recipe for guacamole?",
    "What is the population of Canada?",
    "How do I get red wine out of a carpet?",
)

PROBES: dict[str, tuple[str, ...]] = {
    "in_domain": IN_DOMAIN,
    "uncovered_ml": UNCOVERED_ML,
    "off_topic": OFF_TOPIC,
}
