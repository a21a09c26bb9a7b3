# Generative Models for Science: every command a reader or CI needs.
#   make book   install, execute every notebook, write the HTML book to _build/html
#   make test   install, then the whole suite (ruff, helpers unit tests, nbval, book build)
#   make lab    JupyterLab with the book's kernel
#   make bench  execute every notebook fresh; write bench/results.{json,md}
#   make robust every notebook for seeds 0-4 (+ one sequential run); bench/robust.{json,md}
#               make robust NB="07 15" checks chosen chapters; SEEDS="0 1" other seeds
#   make gan-seeds  rerun the 3-seed GAN mode-coverage table (helpers/results/gan_mode_coverage_seeds.json)
#   make comparison-seeds  rerun the seeds of the comparison chapter (helpers/results/comparison_seeds.json)
#   make student  student versions of the notebooks in student/ (FORCE=1 to replace)
#   make student-book  the HTML book without solutions, in _build/student-html (after make book)
#   make grade SUBMISSIONS=dir  grade submitted notebooks, each answer sandboxed; grades/grades.{csv,json}

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
BOOK_STAMP := $(VENV)/.book-assets-stamp

.PHONY: install install-book book test lab bench robust student student-book grade gan-seeds comparison-seeds clean

# Two tiers. `install` needs only Python (enough for lab, student, bench, robust and the seed
# scripts); `install-book` adds what only the HTML book and its browser test use: the JavaScript
# the book serves offline (npm) and Debian's chromium.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e .
	@touch $(STAMP)

$(BOOK_STAMP): $(STAMP) package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "note: install Debian's chromium package for the browser test (tests/test_html.py)"; fi; }
	@touch $(BOOK_STAMP)

install: $(STAMP)

install-book: $(BOOK_STAMP)

book: install-book
	GM4S_BOOK_BUILD=1 $(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: install-book
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lab: install
	$(VENV)/bin/jupyter lab chapters/intro.md

bench: install
	$(PY) tools/bench.py

robust: install
	$(PY) tools/robust.py $(if $(NB),--nb $(NB)) $(if $(SEEDS),--seeds $(SEEDS))

gan-seeds: install
	$(PY) tools/gan_seeds.py --jobs 2

comparison-seeds: install
	$(PY) tools/comparison_seeds.py --jobs 2

student: install
	$(PY) tools/make_student.py --out student $(if $(FORCE),--force)

student-book: book
	$(PY) tools/student_book.py --out _build/student-html

grade: install
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder-of-notebooks [OUT=grades]"; exit 2; }
	$(PY) tools/grade.py "$(SUBMISSIONS)" --out "$(or $(OUT),grades)"

clean:
	rm -rf _build .jupyter_cache bench .pytest_cache .ruff_cache
