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

# One thread per process: these small models gain little from a second thread, and a shared
# machine makes two threads wait on each other (measured: 4.5x slower training steps).
test: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest tests -q --durations=15

bench: $(STAMP)
	$(PY) benchmarks/deit_vs_timm.py

clean-venv:
	rm -rf .venv
