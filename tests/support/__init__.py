"""Helpers the tests share: hypothesis strategies, PKIs and rigs, process helpers."""
