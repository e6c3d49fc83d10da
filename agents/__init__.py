"""Meta-trained agents (torch, stable-baselines3, sb3-contrib).

Coming with the agents issue: meta-training of sb3-contrib RecurrentPPO on the bandit envs,
supervised LSTM predictors for the prediction envs, and the StateMachine adapters of trained
networks. This package may import ``bayes`` and ``meta_envs``, never ``benchmarks``.
"""
