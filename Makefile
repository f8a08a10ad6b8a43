# The two commands of the README: `make demo` and `make test`. Each builds .venv/ first.
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: install demo test bench clean-venv

install: $(STAMP)

# Re-runs the installer only when a pin or the installer changed; it is itself incremental.
$(STAMP): requirements/constraints.txt tools/setup_env.sh setup.py
	bash tools/setup_env.sh
	touch $@

demo: $(STAMP)
	$(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest tests -q

bench: $(STAMP)
	$(PY) benchmarks/deit_vs_timm.py

clean-venv:
	rm -rf .venv
