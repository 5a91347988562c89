"""Data: reading and cleaning corpora (`corpus`), `prepare`, id datasets and batches."""
