"""Keyboard-only steps for browser tests: no mouse, and every element that takes focus on the way must
show it (an outline or a box-shadow in its computed style)."""

from urllib.parse import urlsplit

from django.urls import reverse
from playwright.sync_api import expect

# What has focus, and whether it is drawn: an outline that is not none, not zero wide and not
# transparent, or a box-shadow.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {name: "nothing (the page itself)", visible: false};
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0
    && !/^(transparent|rgba\\(.*,\\s*0\\))$/.test(style.outlineColor);
  const label = el.getAttribute("aria-label") || el.innerText || el.value || el.name || el.id || "";
  return {name: `<${el.tagName.toLowerCase()}> "${label.trim().replace(/\\s+/g, " ").slice(0, 60)}"`,
          visible: outline || style.boxShadow !== "none"};
}"""


def has_focus(locator):
    return locator.evaluate("el => el === document.activeElement")


def focus_shown(page, context=""):
    """The focused element's name; fails when the element does not show that it has focus."""
    focused = page.evaluate(FOCUSED)
    assert focused["visible"], f"{focused['name']} has focus but does not show it{context}"
    return focused["name"]


def press_until_focused(page, target, *, key="Tab", limit=40):
    """Press Tab (or Shift+Tab) until `target` has focus, checking that each focused element shows it."""
    passed = []
    for _ in range(limit):
        page.keyboard.press(key)
        name = focus_shown(page, f" (after {passed})")
        if has_focus(target):
            return
        passed.append(name)
    raise AssertionError(f"{key} did not reach {target} in {limit} presses; focus went through {passed}")


def skip_to_main(page):
    """The first Tab of a page reaches the skip link, shown; Enter moves focus to the main content.

    A page whose address ends in #main (the answer to a form posted from a page opened through the skip
    link keeps the fragment) already starts there: its first Tab goes into the main content."""
    if urlsplit(page.url).fragment == "main":
        return
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    name = focus_shown(page)
    assert has_focus(skip), f"the first Tab of {page.url} reached {name}, not the skip link"
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def choose_option(page, select, label, *, limit=10):
    """Move a focused <select> to the option `label` with the arrow keys (its list stays closed)."""
    labels = select.locator("option").all_inner_texts()
    wanted, current = labels.index(label), select.evaluate("el => el.selectedIndex")
    key = "ArrowDown" if wanted > current else "ArrowUp"
    for _ in range(min(abs(wanted - current), limit)):
        page.keyboard.press(key)
    expect(select.locator("option:checked")).to_have_text(label)
    expect(select).to_be_focused()
    focus_shown(page)


def sign_in_with_the_keyboard(page, live_url, email, password):
    """The sign-in page focuses the email field itself; Tab to the password, Enter submits."""
    page.goto(f"{live_url}{reverse('login')}")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(email)
    press_until_focused(page, page.get_by_label("Password"))
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def type_over(page, text):
    """Replace the focused field's value, as a person does: select all, then type."""
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text)


def activate_in_main(page, target, key="Enter"):
    """From the top of a page: the skip link, Tab to `target` in the main content, then Enter (or Space)."""
    skip_to_main(page)
    press_until_focused(page, target)
    page.keyboard.press(key)
