/** @type {import('tailwindcss').Config} */
module.exports = {
  content: ["./views/**/*.templ", "./views/**/*.go"],
  theme: {
    extend: {
      maxWidth: { content: "72rem" },
    },
  },
  plugins: [],
};
