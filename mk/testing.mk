# Tests that can fail (issue 19): the deliberate-bug check.
#   make mutation    each mutant of benchmarks/mutants.py put into a copy of the tree, one at a time, and the
#                    tests that must catch it run -> benchmarks/results/mutation.json (fails if one survives)
.PHONY: mutation

mutation: $(STAMP) $(RUN)/checkpoint.pt
	$(PY) benchmarks/mutation.py --run $(RUN) $(if $(wildcard $(BUNDLE)/manifest.json),--bundle $(BUNDLE))
