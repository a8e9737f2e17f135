"""The orchestration layer: providers, models, tokens and mail meet here."""
