"""sacreBLEU scores (BLEU with the `zh` tokenizer, chrF), always with their signatures."""
