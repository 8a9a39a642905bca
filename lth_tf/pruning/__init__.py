"""Pruning: how many weights survive each round (`counts`) and which, by score (`criteria`)."""
