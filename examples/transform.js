// A transform in burn's script contract: CommonJS, export a function of the input.
module.exports = (input) => ({
  id: input.id,
  name: String(input.name).toUpperCase(),
  score: input.x * 2 + (input.tags ?? []).length,
})
