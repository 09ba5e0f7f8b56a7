"""Masked diffusion language models (the Research Greenfields part of the course).

``objective.py`` is the absorbing-state training loss (MDLM/LLaDA), ``sampler.py`` the
step-wise unmasking sampler; the denoiser is the course transformer with ``causal=False``,
trained by the same trainer (``sai train --objective diffusion``) and sampled by ``sai
generate``. ``docs/greenfields.md`` has the comparison with the autoregressive baseline.
"""
