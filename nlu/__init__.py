"""Italian language understanding: Rasa training data, and the app-side HTTP client for Rasa."""
