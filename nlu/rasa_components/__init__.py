"""Custom Rasa graph components of Bussola's NLU pipeline.

This package runs inside the Rasa server's own Python 3.10 environment (``.venv-rasa`` or the
``rasa/rasa`` image), never in the app: it may import ``rasa`` and scikit-learn, and the app must not
import it. Rasa finds it by the module path written in ``nlu/config.yml``, because the Rasa
processes run with the repository root on ``PYTHONPATH`` (``nlu.manage.rasa_env``) or as their
working directory (docker-compose).
"""
