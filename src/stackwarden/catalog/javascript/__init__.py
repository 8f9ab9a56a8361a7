"""JavaScript: npm packages installed under node_modules, and those pinned by package-lock.json,
yarn.lock (classic and berry) and pnpm-lock.yaml."""

from stackwarden.catalog.javascript.declared import JavaScriptDeclaredCataloger
from stackwarden.catalog.javascript.installed import JavaScriptInstalledCataloger

__all__ = ["JavaScriptDeclaredCataloger", "JavaScriptInstalledCataloger"]
