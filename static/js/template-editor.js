/* The visual editor for a campaign's or a template's HTML body (issue 22).

   Senders who do not write HTML edit the message's content visually; the HTML source stays
   editable. Starter templates mark one region in their layout, between
   <!-- content:start --> and <!-- content:end -->: the visual editor (Tiptap/ProseMirror, from
   django-prose-editor's self-hosted bundle) edits that region, the source view the whole
   document. An HTML body with no markers and no layout of its own (a blank campaign, a few
   paragraphs) is edited whole. Every change is written back into the textarea, which stays the
   form's field: the server stores and sanitises the full HTML as before, and the live preview
   follows the textarea's "input" events. Loaded as a module file: no inline script, no CDN. */
import {
  Blockquote, Bold, BulletList, Document, Dropcursor, Editor, Gapcursor, HardBreak, Heading,
  History, HorizontalRule, Italic, Link, ListItem, OrderedList, Paragraph, Text,
} from "../django_prose_editor/editor.js";

const START = "<!-- content:start -->";
const END = "<!-- content:end -->";
// Markup the visual editor cannot hold (it knows paragraphs, headings, lists, links, emphasis,
// quotes and rules) and would drop on the first keystroke: such HTML, whole body or marked
// region, is edited in the source only.
const LAYOUT = /<(table|html|body|head|style|div|img|span|font|center)\b|\sstyle=/i;

function split(html) {
  const start = html.indexOf(START);
  const end = start === -1 ? -1 : html.indexOf(END, start + START.length);
  if (start !== -1 && end !== -1) {
    const region = html.slice(start + START.length, end);
    if (LAYOUT.test(region)) return null;
    return { before: html.slice(0, start + START.length), region, after: html.slice(end) };
  }
  if (!LAYOUT.test(html)) return { before: "", region: html, after: "" };
  return null;
}

function setup(panel) {
  const textarea = document.getElementById(panel.getAttribute("data-for"));
  if (!textarea) return;
  const surface = panel.querySelector(".editor-surface");
  const note = panel.querySelector("#visual-editor-note");
  const toolbar = panel.querySelector(".editor-toolbar");
  const modeButtons = Array.from(panel.querySelectorAll("[data-mode]"));
  const text = (name, english) => panel.getAttribute("data-text-" + name) || english;
  let parts = null;
  let editor = null;
  let mode = "source";

  // The panel sits right above the field, inside its block.
  const field = textarea.closest(".field");
  if (field) field.insertBefore(panel, textarea);
  panel.hidden = false;

  function writeBack() {
    // A region's own markers stay; a whole-body edit writes the body as it is.
    const whole = !parts.before && !parts.after;
    textarea.value = whole
      ? editor.getHTML()
      : parts.before + "\n" + editor.getHTML() + "\n" + parts.after;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function refreshToolbar() {
    if (!editor) return;
    toolbar.querySelectorAll("[data-command]").forEach((button) => {
      const name = button.getAttribute("data-command");
      if (!button.hasAttribute("aria-pressed")) return;
      const active = name === "heading" ? editor.isActive("heading", { level: 2 }) : editor.isActive(name);
      button.setAttribute("aria-pressed", active ? "true" : "false");
    });
  }

  function ensureEditor(region) {
    if (editor) {
      editor.commands.setContent(region, { emitUpdate: false });
      return;
    }
    editor = new Editor({
      element: surface,
      // The page's policy allows no <style> element: the editor's look is in our stylesheet.
      injectCSS: false,
      extensions: [
        Document, Paragraph, Text, HardBreak, Bold, Italic, Blockquote, HorizontalRule,
        Heading.configure({ levels: [1, 2, 3] }), BulletList, OrderedList, ListItem,
        // No autolink: "Monday.Book" typed in a sentence is not a web address.
        Link.configure({ openOnClick: false, enableTarget: false, autolink: false }),
        History, Dropcursor, Gapcursor,
      ],
      content: region,
      editorProps: {
        attributes: {
          role: "textbox",
          "aria-multiline": "true",
          "aria-label": text("surface", "Message content"),
          id: "visual-editor-content",
          class: "editor-content",
        },
      },
      onUpdate: writeBack,
      onTransaction: refreshToolbar,
    });
  }

  function setMode(wanted, focus) {
    if (wanted === "visual") {
      parts = split(textarea.value);
      if (!parts) {
        note.textContent = text("no-region", "This HTML has no region the visual editor can change.");
        wanted = "source";
      } else {
        note.textContent = "";
        ensureEditor(parts.region);
      }
    }
    mode = wanted;
    const visual = mode === "visual";
    textarea.hidden = visual;
    surface.hidden = !visual;
    toolbar.hidden = !visual;
    modeButtons.forEach((button) => {
      button.setAttribute("aria-pressed", button.getAttribute("data-mode") === mode ? "true" : "false");
    });
    if (focus) (visual ? editor.view.dom : textarea).focus();
  }

  const commands = {
    bold: () => editor.chain().focus().toggleBold().run(),
    italic: () => editor.chain().focus().toggleItalic().run(),
    heading: () => editor.chain().focus().toggleHeading({ level: 2 }).run(),
    bulletList: () => editor.chain().focus().toggleBulletList().run(),
    orderedList: () => editor.chain().focus().toggleOrderedList().run(),
    undo: () => editor.chain().focus().undo().run(),
    redo: () => editor.chain().focus().redo().run(),
    link: () => {
      const current = editor.getAttributes("link").href || "https://";
      const href = window.prompt(text("link-prompt", "Link address"), current);
      if (href === null) return;
      const chain = editor.chain().focus().extendMarkRange("link");
      if (href.trim() === "" || href.trim() === "https://") chain.unsetLink().run();
      else chain.setLink({ href: href.trim() }).run();
    },
  };
  // A toolbar button must not take the focus (and the selection) away from the text.
  toolbar.addEventListener("mousedown", (event) => {
    if (event.target.closest("[data-command]")) event.preventDefault();
  });
  toolbar.addEventListener("click", (event) => {
    const button = event.target.closest("[data-command]");
    if (!button || !editor) return;
    commands[button.getAttribute("data-command")]();
  });
  modeButtons.forEach((button) => {
    button.addEventListener("click", () => setMode(button.getAttribute("data-mode"), true));
  });
  // A layout with a marked region opens visually; anything else in its source (the visual view
  // is a click away for a body that is only paragraphs).
  setMode(textarea.value.indexOf(START) !== -1 ? "visual" : "source", false);
}

document.querySelectorAll(".visual-editor[data-for]").forEach(setup);
