"""Training: loss, optimiser and schedule, the train step and its driver."""
