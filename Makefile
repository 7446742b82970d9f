# make book: build the rendered book into _build/html, executing every chapter afresh (full budget;
#            --all: igmlib changes never leave stale outputs)
# make test: every test: unit tests and the book's tests (pairs in sync, the build with -W, which
#            executes every chapter, and the browser check), all on the quick budget
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test sync clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)
	IGM_PROGRESS=0 $(BIN)/jupyter-book build . --all --builder html -W --keep-going

test: $(STAMP)
	IGM_BUDGET=quick IGM_PROGRESS=0 $(BIN)/python -m pytest tests

sync: $(STAMP)
	$(BIN)/jupytext --sync book/*.md

clean:
	rm -rf _build
