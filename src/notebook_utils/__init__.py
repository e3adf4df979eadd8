"""Shared helpers of the executable ML/NLP interview textbook.

Small modules by concern; chapters import names explicitly::

    from notebook_utils.checks import check_close
    from notebook_utils.seeding import seed_everything
    from notebook_utils.style import use_book_style

Modules
-------
``style``    the book's plot style in one call, and a palette.
``seeding``  seeding of ``random``, NumPy and torch in one call.
``devices``  device choice (CUDA when present, else CPU) and a one-line description.
``timing``   median-of-repeats timing with warm-up, and peak memory of a call.
``checks``   verification of a from-scratch result against a reference (or of a Monte-Carlo
           mean against its exact value), one visible line each.
``data``     synthetic data sets used by more than one chapter.
``nn``       parameter counts and per-layer gradient norms of torch modules.
``gpt``      one configurable GPT-style decoder (norms, positions, KV heads, cache).
``rl``       the training chapters' toy task (sorting, verifiable reward), SFT, rollouts,
           per-token log-probs, KL estimators, GAE, PPO's clipped surrogate, GRPO advantages.
``attention_bench``  profiling harness for attention implementations (time, TFLOP/s,
           peak memory, SDPA backends, provenance), results as validated JSON.
"""

__version__ = "0.1.0"
