"""Training: rollouts, losses, the teacher, checkpoints, logs and the report (``vsdpo train``)."""
