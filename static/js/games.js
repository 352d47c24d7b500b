// Games in a conversation (docs/games.md): the cards above the messages, which redraw on every `game.updated`,
// and the "Challenge to a game" dialog. The server checks every rule; the boards only draw what it sends and
// offer what it says is legal (chess: `hints.legal`), so this module knows no game's rules.

import { clear, el } from "./dom.js";
import { displayName } from "./format.js";

// Unicode chess pieces by FEN letter: white upper case, black lower case.
const PIECES = { K: "♔", Q: "♕", R: "♖", B: "♗", N: "♘", P: "♙", k: "♚", q: "♛", r: "♜", b: "♝", n: "♞", p: "♟" };
const PIECE_NAMES = { k: "king", q: "queen", r: "rook", b: "bishop", n: "knight", p: "pawn" };
const FILES = "abcdefgh";
const SHOWN_FINISHED = 2; // finished or declined games stay on the card strip until newer ones push them off

export class Games {
  constructor({ store, connection, say, root, dialog }) {
    this.store = store;
    this.connection = connection;
    this.say = say;
    this.root = root;
    this.dialog = dialog;
    this.games = new Map(); // id -> the game as the server last sent it
    this.listed = new Set(); // conversation ids whose games were fetched since the last (re)connect
    this.conversationId = null;
    this.selected = null; // chess: { gameId, square } of the piece clicked first
    dialog.querySelectorAll("[data-action=close]").forEach((button) => button.addEventListener("click", () => dialog.close()));
    dialog.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.challengeChosen();
    });
  }

  // The chat shown changed (null: none).
  show(conversationId) {
    this.conversationId = conversationId;
    this.selected = null;
    if (conversationId !== null && !this.listed.has(conversationId)) this.load(conversationId);
    this.render();
  }

  // After a reconnect (or a server restart) the games are fetched again: they resume where they were.
  reconnected() {
    this.listed.clear();
    if (this.conversationId !== null) this.load(this.conversationId);
  }

  async load(conversationId) {
    if (!this.connection.isOpen) return;
    try {
      const reply = await this.connection.request({ type: "game.list", conversation_id: conversationId });
      this.listed.add(conversationId);
      for (const game of reply.games) this.updated(game);
      this.render();
    } catch (error) {
      this.say(`Games could not be loaded: ${error.message}`);
    }
  }

  // A game.updated frame or a reply: keep the newest version of each game.
  updated(game) {
    const known = this.games.get(game.id);
    if (known && known.version > game.version) return;
    this.games.set(game.id, game);
    if (game.conversation_id === this.conversationId) this.render();
  }

  // ---- the challenge dialog --------------------------------------------------------------------------------

  open(conversationId) {
    const conversation = this.store.conversations.get(conversationId);
    const select = this.dialog.querySelector("#game-opponent");
    clear(select);
    const others = (conversation?.members || []).filter((person) => person.id !== this.store.me.id);
    for (const person of others) select.append(el("option", { value: String(person.id) }, displayName(person)));
    this.dialog.querySelector(".form-error").hidden = true;
    this.dialogConversation = conversationId;
    this.dialog.showModal();
  }

  async challengeChosen() {
    const kind = this.dialog.querySelector("#game-kind").value;
    const opponent = Number(this.dialog.querySelector("#game-opponent").value);
    const error = this.dialog.querySelector(".form-error");
    if (!opponent) {
      error.textContent = "Nobody else is in this conversation yet.";
      error.hidden = false;
      return;
    }
    try {
      const reply = await this.connection.request({ type: "game.challenge", conversation_id: this.dialogConversation, opponent_id: opponent, kind });
      this.updated(reply.game);
      this.dialog.close();
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  }

  // ---- sending -------------------------------------------------------------------------------------------------

  async send(frame, failed) {
    try {
      const reply = await this.connection.request(frame);
      this.updated(reply.game);
    } catch (error) {
      this.say(`${failed}: ${error.message}`);
      this.render(); // a refused move puts the board back as the server has it
    }
  }

  move(game, move) {
    this.selected = null;
    this.send({ type: "game.move", game_id: game.id, move }, "The move was refused");
  }

  // ---- drawing ---------------------------------------------------------------------------------------------------

  render() {
    clear(this.root);
    const games = [...this.games.values()].filter((game) => game.conversation_id === this.conversationId).sort((a, b) => b.id - a.id);
    const live = games.filter((game) => game.status === "active" || game.status === "challenged");
    const over = games.filter((game) => game.status === "finished").slice(0, SHOWN_FINISHED);
    const shown = [...live, ...over];
    this.root.hidden = shown.length === 0;
    for (const game of shown) this.root.append(this.card(game));
  }

  name(userId) {
    return userId === this.store.me.id ? "you" : displayName(this.store.personOf(userId));
  }

  statusText(game) {
    return capitalized(this.statusSentence(game));
  }

  statusSentence(game) {
    const [first, second] = game.players;
    if (game.status === "challenged") return `${this.name(first)} challenged ${this.name(second)}. Waiting for an answer.`;
    if (game.status === "declined" && game.result === "abandoned") return "Challenge closed: a player left.";
    if (game.status === "declined") return `${this.name(second)} declined.`;
    if (game.status === "active") {
      const turn = game.turn === this.store.me.id ? "Your move" : `${this.name(game.turn)} to move`;
      const offer = game.draw_offered_by ? ` · ${this.name(game.draw_offered_by)} offered a draw` : "";
      const check = game.hints?.check ? " · Check" : "";
      return turn + check + offer;
    }
    if (game.winner === null) return `Draw (${game.result}).`;
    if (game.result === "abandoned") return `${this.name(game.winner)} won: the other player left.`;
    return `${this.name(game.winner)} won (${game.result}).`;
  }

  card(game) {
    const me = this.store.me.id;
    const playing = game.players.includes(me);
    const [first, second] = game.players;
    const actions = el("div", { class: "game-actions" });
    if (game.status === "challenged" && game.players[1] === me) {
      actions.append(
        el("button", { type: "button", class: "primary", onclick: () => this.send({ type: "game.accept", game_id: game.id }, "Could not accept") }, "Accept"),
        el("button", { type: "button", onclick: () => this.send({ type: "game.decline", game_id: game.id }, "Could not decline") }, "Decline"),
      );
    }
    if (game.status === "active" && playing) {
      const offeredByOther = game.draw_offered_by && game.draw_offered_by !== me;
      actions.append(
        offeredByOther
          ? el("button", { type: "button", onclick: () => this.send({ type: "game.draw_accept", game_id: game.id }, "Could not accept the draw") }, "Accept draw")
          : el("button", { type: "button", disabled: Boolean(game.draw_offered_by), onclick: () => this.send({ type: "game.draw_offer", game_id: game.id }, "Could not offer a draw") }, "Offer draw"),
        el("button", { type: "button", class: "danger", onclick: () => this.send({ type: "game.resign", game_id: game.id }, "Could not resign") }, "Resign"),
      );
    }
    return el(
      "article",
      { class: `game-card game-${game.kind}`, dataset: { gameId: String(game.id), status: game.status }, "aria-label": `${game.title}: ${this.name(first)} against ${this.name(second)}` },
      el("header", { class: "game-header" }, el("strong", {}, game.title), el("span", { class: "muted" }, ` ${capitalized(this.name(first))} vs ${this.name(second)}`)),
      this.board(game),
      el("p", { class: "game-status", role: "status" }, this.statusText(game)),
      actions,
    );
  }

  board(game) {
    if (game.kind === "tictactoe") return this.tictactoe(game);
    if (game.kind === "connect_four") return this.connectFour(game);
    if (game.kind === "chess") return this.chess(game);
    return el("p", { class: "muted" }, "This version of Parley cannot draw this game; reload the page.");
  }

  myTurn(game) {
    return game.status === "active" && game.turn === this.store.me.id;
  }

  tictactoe(game) {
    const grid = el("div", { class: "game-grid tictactoe", role: "grid", "aria-label": "Tic-tac-toe board" });
    game.state.cells.forEach((mark, index) => {
      const row = Math.floor(index / 3) + 1;
      const column = (index % 3) + 1;
      grid.append(
        el(
          "button",
          {
            type: "button",
            class: "cell",
            dataset: { cell: String(index) },
            "aria-label": `Row ${row}, column ${column}: ${mark || "empty"}`,
            disabled: Boolean(mark) || !this.myTurn(game),
            onclick: () => this.move(game, String(index)),
          },
          mark,
        ),
      );
    });
    return grid;
  }

  connectFour(game) {
    const { rows } = game.state;
    const grid = el("div", { class: "game-grid connect-four", "aria-label": "Connect four board" });
    const four = new Set((game.state.four || []).map(([row, column]) => `${row}:${column}`));
    for (let column = 0; column < rows[0].length; column++) {
      grid.append(
        el("button", { type: "button", class: "drop", dataset: { column: String(column) }, "aria-label": `Drop a disc in column ${column + 1}`, disabled: Boolean(rows[0][column]) || !this.myTurn(game), onclick: () => this.move(game, String(column)) }, "▼"),
      );
    }
    rows.forEach((row, rowIndex) =>
      row.forEach((disc, column) => grid.append(el("span", { class: `slot ${disc ? `disc-${disc}` : ""} ${four.has(`${rowIndex}:${column}`) ? "four" : ""}`, "aria-hidden": "true" }))),
    );
    return grid;
  }

  chess(game) {
    const placement = chessPlacement(game.state.fen);
    const legal = this.myTurn(game) ? game.hints.legal : [];
    const selected = this.selected?.gameId === game.id ? this.selected.square : null;
    const targets = new Set(legal.filter((move) => move.slice(0, 2) === selected).map((move) => move.slice(2, 4)));
    const blackBelow = game.players[1] === this.store.me.id; // each player sees their own pieces at the bottom
    const ranks = blackBelow ? [1, 2, 3, 4, 5, 6, 7, 8] : [8, 7, 6, 5, 4, 3, 2, 1];
    const files = blackBelow ? [...FILES].reverse() : [...FILES];
    const board = el("div", { class: "game-grid chess-board", "aria-label": "Chess board" });
    const last = game.hints.last;
    for (const rank of ranks) {
      for (const file of files) {
        const square = `${file}${rank}`;
        const piece = placement[square];
        const dark = (FILES.indexOf(file) + rank) % 2 === 0;
        const classes = ["square", dark ? "dark" : "light"];
        if (square === selected) classes.push("selected");
        if (targets.has(square)) classes.push("legal");
        if (last && (last.slice(0, 2) === square || last.slice(2, 4) === square)) classes.push("last");
        const label = `${square}${piece ? `, ${piece === piece.toUpperCase() ? "white" : "black"} ${PIECE_NAMES[piece.toLowerCase()]}` : ""}${targets.has(square) ? ", move here" : ""}`;
        board.append(
          el("button", { type: "button", class: classes.join(" "), dataset: { square }, "aria-label": label, disabled: !legal.length, onclick: () => this.chessClick(game, square, legal) }, piece ? PIECES[piece] : ""),
        );
      }
    }
    return board;
  }

  // Click a piece, then a square: a legal target sends the move (a pawn reaching the last rank becomes a queen);
  // another piece of one's own selects it instead; anything else lets go.
  chessClick(game, square, legal) {
    const from = this.selected?.gameId === game.id ? this.selected.square : null;
    if (from) {
      const moves = legal.filter((move) => move.startsWith(from + square));
      if (moves.length) return this.move(game, moves.find((move) => move.endsWith("q")) || moves[0]);
    }
    this.selected = legal.some((move) => move.startsWith(square)) && square !== from ? { gameId: game.id, square } : null;
    this.render();
  }
}

function capitalized(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// {square: FEN letter} from a FEN's piece placement.
export function chessPlacement(fen) {
  const placement = {};
  fen
    .split(" ")[0]
    .split("/")
    .forEach((row, index) => {
      const rank = 8 - index;
      let file = 0;
      for (const char of row) {
        if (/\d/.test(char)) file += Number(char);
        else placement[`${FILES[file++]}${rank}`] = char;
      }
    });
  return placement;
}
